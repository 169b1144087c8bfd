package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// OCIRepositoryPrefix is the scheme that every OCIRepository URL starts
// with.
const OCIRepositoryPrefix = "oci://"

// Authentication providers of an OCIRepository (and of an OCI
// HelmRepository).
const (
	// GenericOCIProvider authenticates with the static credentials of
	// spec.secretRef or of the service account's image pull secrets.
	GenericOCIProvider = "generic"
	// AmazonOCIProvider authenticates to ECR with an AWS workload identity.
	AmazonOCIProvider = "aws"
	// GoogleOCIProvider authenticates to GAR/GCR with a GCP workload
	// identity.
	GoogleOCIProvider = "gcp"
	// AzureOCIProvider authenticates to ACR with an Azure workload
	// identity.
	AzureOCIProvider = "azure"
)

// Operations on the selected layer of an OCI artifact.
const (
	// OCILayerExtract unpacks the layer (a gzipped tarball) into the
	// artifact.
	OCILayerExtract = "extract"
	// OCILayerCopy stores the layer as it is, still compressed.
	OCILayerCopy = "copy"
)

// OCIRepositorySpec says which OCI artifact to pull, how to authenticate
// and verify it, and which layer to publish.
type OCIRepositorySpec struct {
	// URL of the OCI repository, without tag or digest, such as
	// "oci://ghcr.io/org/manifests".
	// +kubebuilder:validation:Pattern="^oci://.*$"
	// +required
	URL string `json:"url"`

	// Reference is the tag, semver range or digest to pull. When unset,
	// the "latest" tag is pulled.
	// +optional
	Reference *OCIRepositoryRef `json:"ref,omitempty"`

	// LayerSelector picks the layer to publish and how. When unset, the
	// first layer is extracted.
	// +optional
	LayerSelector *OCILayerSelector `json:"layerSelector,omitempty"`

	// Provider selects how to authenticate to the registry: "generic" (the
	// default) uses SecretRef or ServiceAccountName; "aws", "azure" and
	// "gcp" use the cloud's workload identity.
	// +kubebuilder:validation:Enum=generic;aws;azure;gcp
	// +kubebuilder:default:=generic
	// +optional
	Provider string `json:"provider,omitempty"`

	// SecretRef names a Secret of type kubernetes.io/dockerconfigjson, in
	// the same namespace, with the registry credentials.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// Verify, when set, requires the artifact to carry a valid signature.
	// +optional
	Verify *OCIRepositoryVerification `json:"verify,omitempty"`

	// ServiceAccountName is a ServiceAccount in the same namespace whose
	// image pull secrets are used as registry credentials.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// CertSecretRef names a Secret (type Opaque or kubernetes.io/tls) in
	// the same namespace with TLS material for the registry: "ca.crt" to
	// trust a private CA, "tls.crt" and "tls.key" for client certificate
	// authentication.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret in the same namespace with the proxy to
	// reach the registry through: "address", and optionally "username" and
	// "password".
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Interval between two checks of the registry for a new digest, such
	// as "5m". The controller adds a little jitter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// Timeout of one registry operation, such as a pull. Defaults to 60s.
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Ignore lists, in .gitignore syntax (one pattern a line), the files to
	// leave out of the artifact. When unset, a default set is left out.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// Insecure allows plain HTTP connections to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Suspend stops the controller from reconciling this object until it
	// is set back to false; the last artifact stays available.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// OCIRepositoryRef is the reference to pull. When several fields are set,
// the most specific wins: Digest, then SemVer, then Tag.
type OCIRepositoryRef struct {
	// Digest of the manifest to pull, such as "sha256:<hex>".
	// +optional
	Digest string `json:"digest,omitempty"`

	// SemVer is a semver range (such as ">=1.0.0 <2.0.0"); the highest tag
	// in the range is pulled.
	// +optional
	SemVer string `json:"semver,omitempty"`

	// SemverFilter is a regular expression that the tags must match to be
	// considered for SemVer, such as ".*-rc.*" to follow release
	// candidates.
	// +optional
	SemverFilter string `json:"semverFilter,omitempty"`

	// Tag to pull; "latest" when no other field is set.
	// +optional
	Tag string `json:"tag,omitempty"`
}

// OCILayerSelector picks one layer of the OCI artifact.
type OCILayerSelector struct {
	// MediaType of the layer to pick; the first layer with this media type
	// is used. When empty, the first layer is used.
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// Operation on the layer: "extract" (the default) unpacks it into the
	// artifact, "copy" stores the compressed layer as it is.
	// +kubebuilder:validation:Enum=extract;copy
	// +optional
	Operation string `json:"operation,omitempty"`
}

// OCIRepositoryStatus is what the controller last observed and published.
type OCIRepositoryStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the current state: Ready, Reconciling, Stalled,
	// ArtifactInStorage, ArtifactOutdated, SourceVerified, FetchFailed,
	// StorageOperationFailed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is where the latest artifact can be downloaded; it moves with
	// every new artifact. Consumers should prefer Artifact.URL.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the last artifact built from the registry; its revision
	// reads "<tag>@sha256:<manifest digest>".
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`

	// ObservedIgnore is the spec.ignore that Artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	// ObservedLayerSelector is the spec.layerSelector that Artifact was
	// built with.
	// +optional
	ObservedLayerSelector *OCILayerSelector `json:"observedLayerSelector,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ocirepo,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""

// OCIRepository pulls an OCI artifact (manifests, a Helm chart, any
// tarball) from a container registry on an interval, and publishes one of
// its layers as an artifact.
type OCIRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the OCIRepository.
	// +optional
	Spec OCIRepositorySpec `json:"spec,omitempty"`

	// Status is the observed state of the OCIRepository.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status OCIRepositoryStatus `json:"status,omitempty"`
}

// OCIRepositoryList is a list of OCIRepositories.
// +kubebuilder:object:root=true
type OCIRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the OCIRepositories.
	Items []OCIRepository `json:"items"`
}

var _ meta.Reconcilable = &OCIRepository{}

// GetConditions returns status.conditions.
func (in *OCIRepository) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *OCIRepository) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *OCIRepository) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *OCIRepository) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetTimeout returns spec.timeout, or 60s when unset.
func (in *OCIRepository) GetTimeout() time.Duration {
	return timeoutOrDefault(in.Spec.Timeout)
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *OCIRepository) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

// GetLayerMediaType returns the media type of spec.layerSelector; empty
// means the first layer.
func (in *OCIRepository) GetLayerMediaType() string {
	if in.Spec.LayerSelector == nil {
		return ""
	}
	return in.Spec.LayerSelector.MediaType
}

// GetLayerOperation returns the operation of spec.layerSelector,
// defaulting to OCILayerExtract.
func (in *OCIRepository) GetLayerOperation() string {
	if in.Spec.LayerSelector == nil || in.Spec.LayerSelector.Operation == "" {
		return OCILayerExtract
	}
	return in.Spec.LayerSelector.Operation
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *OCIRepository) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest records token in
// status.lastHandledReconcileAt.
func (in *OCIRepository) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

func init() {
	register(&OCIRepository{}, &OCIRepositoryList{})
}
