package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ImageRepositoryKind is the kind name of ImageRepository.
const ImageRepositoryKind = "ImageRepository"

// Registry authentication providers for spec.provider.
const (
	// GenericRegistryProvider authenticates with spec.secretRef, or not at
	// all.
	GenericRegistryProvider = "generic"
	// AWSRegistryProvider gets ECR credentials from the AWS environment.
	AWSRegistryProvider = "aws"
	// AzureRegistryProvider gets ACR credentials from the Azure environment.
	AzureRegistryProvider = "azure"
	// GCPRegistryProvider gets GCR and Artifact Registry credentials from
	// the Google Cloud environment.
	GCPRegistryProvider = "gcp"
)

// DefaultExclusionList is spec.exclusionList when it is not set: it skips
// the cosign signature tags (sha256-<digest>.sig).
var DefaultExclusionList = []string{`^.*\.sig$`}

// ImageRepositorySpec says which image repository to scan, how often, and
// how to authenticate to its registry.
type ImageRepositorySpec struct {
	// Image is the repository to scan, without tag, such as
	// "ghcr.io/stefanprodan/podinfo" or "alpine" (meaning
	// docker.io/library/alpine).
	// +required
	Image string `json:"image"`

	// Interval between scans.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// Timeout for one scan. Defaults to the interval.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// SecretRef names a docker-registry Secret (.dockerconfigjson) in the
	// same namespace with credentials for the registry, as made by
	// `kubectl create secret docker-registry`.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// ProxySecretRef names a Secret in the same namespace with the proxy to
	// reach the registry through: key "address", and optionally "username"
	// and "password".
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// ServiceAccountName is a ServiceAccount in the same namespace whose
	// image pull secrets are used as registry credentials.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// CertSecretRef names a Secret in the same namespace, of type Opaque or
	// kubernetes.io/tls, with TLS material for the registry: "ca.crt" to
	// trust a private CA, and "tls.crt" with "tls.key" for a client
	// certificate.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// Suspend stops new scans until unset; a scan in progress finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// AccessFrom lists the namespaces whose ImagePolicies may reference
	// this repository. When empty, only policies in the same namespace may.
	// +optional
	AccessFrom *meta.AccessFrom `json:"accessFrom,omitempty"`

	// ExclusionList holds regular expressions; tags that match any of them
	// are not recorded. Defaults to skipping cosign signature tags.
	// +kubebuilder:default:={"^.*\\.sig$"}
	// +kubebuilder:validation:MaxItems=25
	// +optional
	ExclusionList []string `json:"exclusionList,omitempty"`

	// Provider gets registry credentials from a cloud environment: aws,
	// azure or gcp. "generic" (the default) uses secretRef and
	// serviceAccountName only.
	// +kubebuilder:validation:Enum=generic;aws;azure;gcp
	// +kubebuilder:default:=generic
	// +optional
	Provider string `json:"provider,omitempty"`

	// Insecure allows a registry served over plain HTTP.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
}

// ScanResult summarizes the tags found by the last scan.
type ScanResult struct {
	// Revision is a digest of the set of tags; it changes when the tags do.
	// +optional
	Revision string `json:"revision,omitempty"`

	// TagCount is the number of tags recorded.
	// +required
	TagCount int `json:"tagCount"`

	// ScanTime is when the scan finished.
	// +optional
	ScanTime metav1.Time `json:"scanTime,omitempty"`

	// LatestTags is a sample of at most ten tags: the first ones in
	// reverse alphabetical order.
	// +optional
	LatestTags []string `json:"latestTags,omitempty"`
}

// ImageRepositoryStatus is what the controller last observed of an
// ImageRepository.
type ImageRepositoryStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the generation of the spec that the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions say whether the last scan succeeded.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// CanonicalImageName is spec.image written out in full, such as
	// "docker.io/library/alpine" for "alpine".
	// +optional
	CanonicalImageName string `json:"canonicalImageName,omitempty"`

	// LastScanResult summarizes the last successful scan.
	// +optional
	LastScanResult *ScanResult `json:"lastScanResult,omitempty"`

	// ObservedExclusionList is the exclusion list that the last scan
	// applied.
	// +optional
	ObservedExclusionList []string `json:"observedExclusionList,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=imgrepo;imagerepo,categories=all;fluxcd;fluxcd-images
// +kubebuilder:printcolumn:name="Image",type="string",JSONPath=".spec.image"
// +kubebuilder:printcolumn:name="Tags",type="string",JSONPath=".status.lastScanResult.tagCount"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="Last scan",type="string",JSONPath=".status.lastScanResult.scanTime",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// ImageRepository scans a container image repository for its tags at an
// interval, for ImagePolicies to choose from.
type ImageRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the ImageRepository.
	// +optional
	Spec ImageRepositorySpec `json:"spec,omitempty"`

	// Status is the observed state of the ImageRepository.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status ImageRepositoryStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &ImageRepository{}

// GetConditions returns the status conditions.
func (in *ImageRepository) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *ImageRepository) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *ImageRepository) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// GetTimeout returns spec.timeout, or spec.interval when it is unset.
func (in *ImageRepository) GetTimeout() time.Duration {
	if in.Spec.Timeout != nil && in.Spec.Timeout.Duration > 0 {
		return in.Spec.Timeout.Duration
	}
	return in.Spec.Interval.Duration
}

// GetExclusionList returns spec.exclusionList, or DefaultExclusionList
// when it is nil.
func (in *ImageRepository) GetExclusionList() []string {
	if in.Spec.ExclusionList == nil {
		return append([]string(nil), DefaultExclusionList...)
	}
	return in.Spec.ExclusionList
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *ImageRepository) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *ImageRepository) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// IsSuspended reports spec.suspend.
func (in *ImageRepository) IsSuspended() bool {
	return in.Spec.Suspend
}

// +kubebuilder:object:root=true

// ImageRepositoryList is a list of ImageRepositories.
type ImageRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ImageRepositories.
	Items []ImageRepository `json:"items"`
}

func init() {
	SchemeBuilder.Register(addKnownTypes(&ImageRepository{}, &ImageRepositoryList{}))
}
