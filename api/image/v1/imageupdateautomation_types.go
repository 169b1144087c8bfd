package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ImageUpdateAutomationKind is the kind name of ImageUpdateAutomation.
const ImageUpdateAutomationKind = "ImageUpdateAutomation"

// Setter markers. A YAML field is updated by the Setters strategy when its
// line ends with a comment such as
//
//	image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "apps:app"}
//	tag: 1.0.0                   # {"$imagepolicy": "apps:app:tag"}
//
// naming an ImagePolicy as "<namespace>:<name>", optionally followed by
// ":tag", ":name" or ":digest" to write only that part of the policy's
// latest image instead of the whole reference.
const (
	// SetterMarkerKey is the JSON key of a setter marker comment.
	SetterMarkerKey = "$imagepolicy"

	// SetterFieldTag writes only the tag of the latest image.
	SetterFieldTag = "tag"

	// SetterFieldName writes only the name of the latest image, without
	// tag or digest.
	SetterFieldName = "name"

	// SetterFieldDigest writes only the digest of the latest image; the
	// policy must reflect digests (digestReflectionPolicy).
	SetterFieldDigest = "digest"
)

// SetterMarker returns the JSON of a setter marker comment for the
// ImagePolicy namespace/name. field is one of the SetterField constants,
// or "" for the whole image reference.
func SetterMarker(namespace, name, field string) string {
	ref := namespace + ":" + name
	if field != "" {
		ref += ":" + field
	}
	return `{"` + SetterMarkerKey + `": "` + ref + `"}`
}

// UpdateStrategyName names how the manifests in the checkout are updated.
// +kubebuilder:validation:Enum=Setters
type UpdateStrategyName string

const (
	// UpdateStrategySetters rewrites the YAML fields that carry a setter
	// marker comment (see SetterMarkerKey).
	UpdateStrategySetters UpdateStrategyName = "Setters"
)

// SigningKeyType is the format of a commit signing key.
// +kubebuilder:validation:Enum=gpg;ssh
type SigningKeyType string

const (
	// SigningKeyTypeGPG reads an armored OpenPGP key pair from "git.asc",
	// and its passphrase from "passphrase" when set.
	SigningKeyTypeGPG SigningKeyType = "gpg"

	// SigningKeyTypeSSH reads an SSH private key from "identity", and its
	// passphrase from "password" when set; the same keys as a GitRepository
	// SSH Secret, so one Secret can serve both.
	SigningKeyTypeSSH SigningKeyType = "ssh"
)

// ImageUpdateAutomationSpec says which Git repository to update, which
// files, with which policies, and how to commit and push.
type ImageUpdateAutomationSpec struct {
	// SourceRef names the GitRepository to check out and push to.
	// +required
	SourceRef CrossNamespaceSourceReference `json:"sourceRef"`

	// GitSpec says what to check out, how to commit and where to push.
	// Optional in the schema, but needed in practice.
	// +optional
	GitSpec *GitSpec `json:"git,omitempty"`

	// Interval between automation runs; a run with nothing to change makes
	// no commit.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// PolicySelector selects, by label, the ImagePolicies in the same
	// namespace whose markers are applied. When empty, all of them are.
	// +optional
	PolicySelector *metav1.LabelSelector `json:"policySelector,omitempty"`

	// Update says how and where in the checkout to update manifests.
	// Defaults to the Setters strategy on the whole repository.
	// +kubebuilder:default={"strategy":"Setters"}
	// +optional
	Update *UpdateStrategy `json:"update,omitempty"`

	// Suspend stops automation runs until unset.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// CrossNamespaceSourceReference names the Git source of an automation.
type CrossNamespaceSourceReference struct {
	// APIVersion of the source, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source; only GitRepository.
	// +kubebuilder:validation:Enum=GitRepository
	// +kubebuilder:default=GitRepository
	// +required
	Kind string `json:"kind"`

	// Name of the source.
	// +required
	Name string `json:"name"`

	// Namespace of the source; defaults to the automation's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// GitSpec says what to check out, how to commit and where to push.
type GitSpec struct {
	// Checkout is the reference to check out and commit on top of. When
	// unset, the GitRepository's spec.ref is used.
	// +optional
	Checkout *GitCheckoutSpec `json:"checkout,omitempty"`

	// Commit says who authors the commits and what their message says.
	// +required
	Commit CommitSpec `json:"commit"`

	// Push says where to push the commits. When unset, they are pushed to
	// the branch that was checked out.
	// +optional
	Push *PushSpec `json:"push,omitempty"`
}

// HasRefspec reports whether a push refspec is set.
func (in GitSpec) HasRefspec() bool {
	return in.Push != nil && in.Push.Refspec != ""
}

// GitCheckoutSpec is the reference an automation checks out.
type GitCheckoutSpec struct {
	// Reference to check out.
	// +required
	Reference GitCheckoutRef `json:"ref"`
}

// GitCheckoutRef is a Git reference to check out, with the same fields
// and precedence as a GitRepository's spec.ref: commit, then name, then
// semver, then tag, then branch.
type GitCheckoutRef struct {
	// Branch to check out. Defaults to "master" when no field is set.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Tag to check out; wins over branch.
	// +optional
	Tag string `json:"tag,omitempty"`

	// SemVer range; the highest matching tag is checked out. Wins over
	// tag.
	// +optional
	SemVer string `json:"semver,omitempty"`

	// Name of a full reference, such as "refs/heads/main" or
	// "refs/pull/42/head"; wins over branch, tag and semver.
	// +optional
	Name string `json:"name,omitempty"`

	// Commit SHA to check out; wins over all other fields. With branch, the
	// branch is cloned shallowly and must contain the commit.
	// +optional
	Commit string `json:"commit,omitempty"`
}

// CommitSpec says how the automation commits.
type CommitSpec struct {
	// Author of the commits.
	// +required
	Author CommitUser `json:"author"`

	// SigningKey signs the commits with an OpenPGP or SSH key.
	// +optional
	SigningKey *SigningKey `json:"signingKey,omitempty"`

	// MessageTemplate is a Go text/template for the commit message; it can
	// read the changes made (.Changed) and the automation
	// (.AutomationObject), and .Values from messageTemplateValues.
	// .Updated no longer exists.
	// +optional
	MessageTemplate string `json:"messageTemplate,omitempty"`

	// MessageTemplateValues are extra values the message template reads as
	// .Values.
	// +optional
	MessageTemplateValues map[string]string `json:"messageTemplateValues,omitempty"`
}

// CommitUser is the author of automation commits.
type CommitUser struct {
	// Name of the author.
	// +optional
	Name string `json:"name,omitempty"`

	// Email of the author.
	// +required
	Email string `json:"email"`
}

// SigningKey names the Secret with a commit signing key.
type SigningKey struct {
	// SecretRef names a Secret in the automation's namespace with the key:
	// "git.asc" (and optionally "passphrase") for gpg, "identity" (and
	// optionally "password") for ssh. SSH keys may be ed25519, ECDSA or RSA
	// of at least 2048 bits.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`

	// Type of the key: gpg (the default) or ssh.
	// +optional
	Type SigningKeyType `json:"type,omitempty"`
}

// PushSpec says where automation commits are pushed.
type PushSpec struct {
	// Branch to push to; it is created from the checked-out commit if it
	// does not exist, so changes can be reviewed before merging.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Refspec to push with, such as
	// "refs/heads/main:refs/heads/auto/update"; with branch, the commit is
	// pushed to both.
	// +optional
	Refspec string `json:"refspec,omitempty"`

	// Options are git push options (push -o key=value) sent to the server,
	// such as GitLab's merge_request.create.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// UpdateStrategy says how and where to update manifests.
type UpdateStrategy struct {
	// Strategy to update with; only Setters.
	// +kubebuilder:default=Setters
	// +optional
	Strategy UpdateStrategyName `json:"strategy,omitempty"`

	// Path in the repository under which manifests are updated. Defaults
	// to the repository root.
	// +optional
	Path string `json:"path,omitempty"`
}

// ObservedPolicies maps ImagePolicy names to the image each had picked
// when the automation last ran.
type ObservedPolicies map[string]ImageRef

// ImageUpdateAutomationStatus is what the controller last observed of an
// ImageUpdateAutomation.
type ImageUpdateAutomationStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether the last run succeeded.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastAutomationRunTime is when a run last completed, whether or not it
	// committed.
	// +optional
	LastAutomationRunTime *metav1.Time `json:"lastAutomationRunTime,omitempty"`

	// LastPushCommit is the SHA-1 of the last commit pushed.
	// +optional
	LastPushCommit string `json:"lastPushCommit,omitempty"`

	// LastPushTime is when a commit was last pushed.
	// +optional
	LastPushTime *metav1.Time `json:"lastPushTime,omitempty"`

	// ObservedPolicies are the policies applied by the last run, with the
	// image each had picked; a run is skipped when neither these nor the
	// source revision changed.
	// +optional
	ObservedPolicies ObservedPolicies `json:"observedPolicies,omitempty"`

	// ObservedSourceRevision is the Git revision the last run started from.
	// +optional
	ObservedSourceRevision string `json:"observedSourceRevision,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=iua;imgupd;imgauto,categories=all;fluxcd;fluxcd-images
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/substitute=disabled"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="Last run",type="string",JSONPath=".status.lastAutomationRunTime",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// ImageUpdateAutomation checks out a Git repository, writes the latest
// images that ImagePolicies picked into the manifests marked for them,
// and commits and pushes the change.
type ImageUpdateAutomation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the ImageUpdateAutomation.
	// +optional
	Spec ImageUpdateAutomationSpec `json:"spec,omitempty"`

	// Status is the observed state of the ImageUpdateAutomation.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ImageUpdateAutomationStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &ImageUpdateAutomation{}

// GetConditions returns the status conditions.
func (in *ImageUpdateAutomation) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *ImageUpdateAutomation) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *ImageUpdateAutomation) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *ImageUpdateAutomation) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *ImageUpdateAutomation) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *ImageUpdateAutomation) IsSuspended() bool {
	return in.Spec.Suspend
}

// +kubebuilder:object:root=true

// ImageUpdateAutomationList is a list of ImageUpdateAutomations.
type ImageUpdateAutomationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ImageUpdateAutomations.
	Items []ImageUpdateAutomation `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&ImageUpdateAutomation{}, &ImageUpdateAutomationList{}))
}
