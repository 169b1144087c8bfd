package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ImagePolicyKind is the kind name of ImagePolicy.
const ImagePolicyKind = "ImagePolicy"

// DefaultDigestReflectionInterval is how often an ImagePolicy with
// digestReflectionPolicy Always looks up the digest of its latest tag when
// spec.interval is unset.
const DefaultDigestReflectionInterval = 10 * time.Minute

// ReflectionPolicy says when status.latestRef.digest is filled in.
// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
type ReflectionPolicy string

const (
	// ReflectAlways looks up the digest of the latest tag on every
	// reconcile (every spec.interval), so a tag that is pushed again is
	// noticed.
	ReflectAlways ReflectionPolicy = "Always"
	// ReflectIfNotPresent looks up the digest once, when the latest tag
	// changes or the digest is empty, and keeps it after that.
	ReflectIfNotPresent ReflectionPolicy = "IfNotPresent"
	// ReflectNever leaves the digest empty.
	ReflectNever ReflectionPolicy = "Never"
)

// Sort orders of the alphabetical and numerical policies.
const (
	// OrderAscending picks the highest tag (Z, or 9).
	OrderAscending = "asc"
	// OrderDescending picks the lowest tag (A, or 0).
	OrderDescending = "desc"
)

// ImagePolicySpec says which ImageRepository to choose from and how to
// pick its latest tag.
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')",message="spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'"
// +kubebuilder:validation:XValidation:rule="has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'",message="spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"
type ImagePolicySpec struct {
	// ImageRepositoryRef names the ImageRepository whose tags to choose
	// from; another namespace is allowed when the repository's accessFrom
	// grants it.
	// +required
	ImageRepositoryRef meta.NamespacedObjectReference `json:"imageRepositoryRef"`

	// Policy is the rule that orders the tags: exactly one of semver,
	// alphabetical or numerical.
	// +required
	Policy ImagePolicyChoice `json:"policy"`

	// FilterTags narrows the tags before the policy orders them, and can
	// extract the part of the tag that the policy compares.
	// +optional
	FilterTags *TagFilter `json:"filterTags,omitempty"`

	// DigestReflectionPolicy says when status.latestRef.digest is set:
	// Never (the default) leaves it empty; IfNotPresent sets it once per
	// new tag; Always refreshes it every interval, so a moved tag is
	// noticed.
	// +kubebuilder:default:=Never
	// +optional
	DigestReflectionPolicy ReflectionPolicy `json:"digestReflectionPolicy,omitempty"`

	// Interval between digest look-ups; only allowed, and then required,
	// when digestReflectionPolicy is Always.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Suspend stops this policy from being re-evaluated until unset.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ImagePolicyChoice holds one way of ordering tags; set exactly one field.
type ImagePolicyChoice struct {
	// SemVer picks the highest tag that is a semantic version within a
	// range.
	// +optional
	SemVer *SemVerPolicy `json:"semver,omitempty"`

	// Alphabetical picks the tag that sorts last (or first, with order
	// desc), such as for timestamped tags.
	// +optional
	Alphabetical *AlphabeticalPolicy `json:"alphabetical,omitempty"`

	// Numerical picks the tag with the highest number (or lowest, with
	// order desc), such as for build numbers.
	// +optional
	Numerical *NumericalPolicy `json:"numerical,omitempty"`
}

// SemVerPolicy picks the highest semantic version.
type SemVerPolicy struct {
	// Range of acceptable versions, such as ">=1.0.0 <2.0.0" or "5.1.x".
	// +required
	Range string `json:"range"`
}

// AlphabeticalPolicy orders tags as strings.
type AlphabeticalPolicy struct {
	// Order "asc" (the default) picks the tag that sorts last; "desc" the
	// one that sorts first.
	// +kubebuilder:validation:Enum=asc;desc
	// +kubebuilder:default:="asc"
	// +optional
	Order string `json:"order,omitempty"`
}

// NumericalPolicy orders tags as numbers.
type NumericalPolicy struct {
	// Order "asc" (the default) picks the largest number; "desc" the
	// smallest.
	// +kubebuilder:validation:Enum=asc;desc
	// +kubebuilder:default:="asc"
	// +optional
	Order string `json:"order,omitempty"`
}

// TagFilter keeps the tags that match a regular expression.
type TagFilter struct {
	// Pattern is a Go regular expression; only tags that match are
	// considered.
	// +optional
	Pattern string `json:"pattern"`

	// Extract is a template, such as "$ts", built from the pattern's
	// capture groups; the policy compares its result instead of the whole
	// tag.
	// +optional
	Extract string `json:"extract"`
}

// ImageRef is an image picked by a policy.
type ImageRef struct {
	// Name of the image, without tag, such as "ghcr.io/org/app".
	// +required
	Name string `json:"name"`

	// Tag of the image.
	// +required
	Tag string `json:"tag"`

	// Digest of the image manifest, such as "sha256:<hex>", when the
	// digest reflection policy asks for it.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// String returns the reference as name:tag, or name:tag@digest when the
// digest is known.
func (in *ImageRef) String() string {
	s := in.Name + ":" + in.Tag
	if in.Digest != "" {
		s += "@" + in.Digest
	}
	return s
}

// ImagePolicyStatus is what the controller last observed of an
// ImagePolicy.
type ImagePolicyStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether a latest image could be picked.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LatestRef is the image the policy picked.
	// +optional
	LatestRef *ImageRef `json:"latestRef,omitempty"`

	// ObservedPreviousRef is the image picked before LatestRef, so a
	// change of pick can be reported.
	// +optional
	ObservedPreviousRef *ImageRef `json:"observedPreviousRef,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=imgpol;imagepol,categories=all;fluxcd;fluxcd-images
// +kubebuilder:printcolumn:name="Image",type="string",JSONPath=".status.latestRef.name"
// +kubebuilder:printcolumn:name="Tag",type="string",JSONPath=".status.latestRef.tag"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// ImagePolicy picks the latest image from the tags an ImageRepository
// found, by semantic version, alphabetical or numerical order.
type ImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the ImagePolicy.
	// +optional
	Spec ImagePolicySpec `json:"spec,omitempty"`

	// Status is the observed state of the ImagePolicy.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ImagePolicyStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &ImagePolicy{}

// GetConditions returns the status conditions.
func (in *ImagePolicy) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *ImagePolicy) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetDigestReflectionPolicy returns spec.digestReflectionPolicy, or
// ReflectNever when unset.
func (in *ImagePolicy) GetDigestReflectionPolicy() ReflectionPolicy {
	if in.Spec.DigestReflectionPolicy == "" {
		return ReflectNever
	}
	return in.Spec.DigestReflectionPolicy
}

// GetRequeueAfter returns the digest refresh interval when the reflection
// policy is Always (spec.interval, or DefaultDigestReflectionInterval),
// and 0 otherwise: the policy is then re-evaluated only when it or its
// ImageRepository changes.
func (in *ImagePolicy) GetRequeueAfter() time.Duration {
	if in.GetDigestReflectionPolicy() != ReflectAlways {
		return 0
	}
	if in.Spec.Interval != nil && in.Spec.Interval.Duration > 0 {
		return in.Spec.Interval.Duration
	}
	return DefaultDigestReflectionInterval
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *ImagePolicy) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *ImagePolicy) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *ImagePolicy) IsSuspended() bool {
	return in.Spec.Suspend
}

// +kubebuilder:object:root=true

// ImagePolicyList is a list of ImagePolicies.
type ImagePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ImagePolicies.
	Items []ImagePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&ImagePolicy{}, &ImagePolicyList{}))
}
