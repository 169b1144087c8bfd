package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// Types of HelmRepository.
const (
	// HelmRepositoryTypeDefault is a classic Helm repository served over
	// HTTP(S) with an index.yaml.
	HelmRepositoryTypeDefault = "default"
	// HelmRepositoryTypeOCI is a Helm repository in an OCI registry; it has
	// no index, so the controller only checks the spec and publishes no
	// artifact.
	HelmRepositoryTypeOCI = "oci"
)

// HelmRepositoryURLIndexKey is the field index under which HelmRepositories
// are indexed by spec.url.
const HelmRepositoryURLIndexKey = ".metadata.helmRepositoryURL"

// defaultHelmRepositoryInterval is how often a HelmRepository without
// spec.interval is checked.
const defaultHelmRepositoryInterval = time.Minute

// HelmRepositorySpec says where a Helm repository is and how to reach it.
type HelmRepositorySpec struct {
	// URL of the repository: "https://charts.example.com" for an index
	// repository, "oci://ghcr.io/org/charts" for an OCI one.
	// +kubebuilder:validation:Pattern="^(http|https|oci)://.*$"
	// +required
	URL string `json:"url"`

	// SecretRef names a Secret in the same namespace with the credentials:
	// "username" and "password" for basic authentication; for an OCI
	// repository, a kubernetes.io/dockerconfigjson Secret also works.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret (type Opaque or kubernetes.io/tls) in
	// the same namespace with TLS material: "ca.crt" to trust a private CA,
	// "tls.crt" and "tls.key" for client certificate authentication. It
	// wins over TLS keys in SecretRef.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// PassCredentials sends the SecretRef credentials also to hosts other
	// than the one in URL, when the index points charts elsewhere. Only
	// enable it if you trust those hosts.
	// +optional
	PassCredentials bool `json:"passCredentials,omitempty"`

	// Interval between two downloads of the index, such as "1h". The
	// controller adds a little jitter. Not used by OCI repositories.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval metav1.Duration `json:"interval,omitempty"`

	// Insecure allows plain HTTP connections to an OCI registry. Only used
	// when Type is "oci".
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Timeout of the index download, and of chart pulls from an OCI
	// repository. Defaults to 60s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Suspend stops the controller from reconciling this object until it
	// is set back to false; the last artifact stays available.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// AccessFrom lists the namespaces whose objects may reference this
	// repository across namespaces. Reserved: not enforced yet.
	// +optional
	AccessFrom *meta.AccessFrom `json:"accessFrom,omitempty"`

	// Type of the repository: "default" for an index repository over
	// HTTP(S), "oci" for a registry (URL must then start with "oci://").
	// +kubebuilder:validation:Enum=default;oci
	// +optional
	Type string `json:"type,omitempty"`

	// Provider selects how to authenticate to an OCI registry: "generic"
	// (the default) uses SecretRef; "aws", "azure" and "gcp" use the
	// cloud's workload identity. Only used when Type is "oci".
	// +kubebuilder:validation:Enum=generic;aws;azure;gcp
	// +kubebuilder:default:=generic
	// +optional
	Provider string `json:"provider,omitempty"`
}

// HelmRepositoryStatus is what the controller last observed and published.
type HelmRepositoryStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the current state: Ready, Reconciling, Stalled,
	// ArtifactInStorage, ArtifactOutdated, FetchFailed,
	// StorageOperationFailed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is where the latest index can be downloaded; it moves with every
	// new artifact. Consumers should prefer Artifact.URL.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the last index downloaded; its revision is the
	// "sha256:<hex>" digest of the index.
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=helmrepo,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""

// HelmRepository is a Helm chart repository. For an index repository the
// controller downloads index.yaml on an interval and publishes it as an
// artifact; HelmCharts then pull their charts from it.
type HelmRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the HelmRepository.
	// +optional
	Spec HelmRepositorySpec `json:"spec,omitempty"`

	// Status is the observed state of the HelmRepository.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status HelmRepositoryStatus `json:"status,omitempty"`
}

// HelmRepositoryList is a list of HelmRepositories.
// +kubebuilder:object:root=true
type HelmRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the HelmRepositories.
	Items []HelmRepository `json:"items"`
}

var _ meta.Reconcilable = &HelmRepository{}

// GetConditions returns status.conditions.
func (in *HelmRepository) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *HelmRepository) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval, or one minute when it is unset
// (the field is optional because OCI repositories are not polled).
func (in *HelmRepository) GetRequeueAfter() time.Duration {
	if in.Spec.Interval.Duration > 0 {
		return in.Spec.Interval.Duration
	}
	return defaultHelmRepositoryInterval
}

// IsSuspended reports spec.suspend.
func (in *HelmRepository) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetTimeout returns spec.timeout, or 60s when unset.
func (in *HelmRepository) GetTimeout() time.Duration {
	return timeoutOrDefault(in.Spec.Timeout)
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *HelmRepository) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

// IsOCI reports whether the repository is in an OCI registry.
func (in *HelmRepository) IsOCI() bool {
	return in.Spec.Type == HelmRepositoryTypeOCI
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *HelmRepository) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest records token in
// status.lastHandledReconcileAt.
func (in *HelmRepository) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

func init() {
	register(&HelmRepository{}, &HelmRepositoryList{})
}
