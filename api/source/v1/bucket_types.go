package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// Object storage providers of a Bucket.
const (
	// BucketProviderGeneric is any S3-compatible API (MinIO, Ceph, R2, ...),
	// with static keys or an LDAP STS.
	BucketProviderGeneric = "generic"
	// BucketProviderAmazon is AWS S3, with static keys, the EC2/EKS
	// instance or workload identity, or AWS STS.
	BucketProviderAmazon = "aws"
	// BucketProviderGoogle is Google Cloud Storage, with a service account
	// key or workload identity.
	BucketProviderGoogle = "gcp"
	// BucketProviderAzure is Azure Blob Storage, with a shared key, a
	// service principal, a SAS token or workload identity.
	BucketProviderAzure = "azure"
)

// Security Token Service providers of a Bucket.
const (
	// STSProviderAmazon is AWS STS, for the "aws" Bucket provider.
	STSProviderAmazon = "aws"
	// STSProviderLDAP is the LDAP STS of MinIO, for the "generic" Bucket
	// provider.
	STSProviderLDAP = "ldap"
)

// BucketSpec says which bucket (and prefix) to download, from where and
// with which credentials.
// +kubebuilder:validation:XValidation:rule="self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)",message="STS configuration is only supported for the 'aws' and 'generic' Bucket providers"
// +kubebuilder:validation:XValidation:rule="self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'",message="'aws' is the only supported STS provider for the 'aws' Bucket provider"
// +kubebuilder:validation:XValidation:rule="self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'",message="'ldap' is the only supported STS provider for the 'generic' Bucket provider"
// +kubebuilder:validation:XValidation:rule="!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)",message="spec.sts.secretRef is not required for the 'aws' STS provider"
// +kubebuilder:validation:XValidation:rule="!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)",message="spec.sts.certSecretRef is not required for the 'aws' STS provider"
// +kubebuilder:validation:XValidation:rule="self.provider != 'generic' || !has(self.serviceAccountName)",message="ServiceAccountName is not supported for the 'generic' Bucket provider"
// +kubebuilder:validation:XValidation:rule="!has(self.secretRef) || !has(self.serviceAccountName)",message="cannot set both .spec.secretRef and .spec.serviceAccountName"
type BucketSpec struct {
	// Provider of the object storage: "generic" (the default, any
	// S3-compatible API), "aws", "gcp" or "azure".
	// +kubebuilder:validation:Enum=generic;aws;gcp;azure
	// +kubebuilder:default:=generic
	// +optional
	Provider string `json:"provider,omitempty"`

	// BucketName is the name of the bucket (the container, for Azure).
	// +required
	BucketName string `json:"bucketName"`

	// Endpoint is the address of the storage service, such as
	// "s3.amazonaws.com", "minio.minio:9000" or
	// "https://account.blob.core.windows.net".
	// +required
	Endpoint string `json:"endpoint"`

	// STS, when set, gets temporary credentials from a Security Token
	// Service. Only for the "aws" and "generic" providers.
	// +optional
	STS *BucketSTSSpec `json:"sts,omitempty"`

	// Insecure allows plain HTTP connections to Endpoint.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Region of the bucket, for providers that need it.
	// +optional
	Region string `json:"region,omitempty"`

	// Prefix limits the download to the objects whose keys start with it;
	// the filtering happens on the server.
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// SecretRef names a Secret in the same namespace with the credentials:
	// "accesskey" and "secretkey" for S3-compatible and AWS providers,
	// "serviceaccount" for GCP, and the Azure keys for Azure.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// ServiceAccountName is the Kubernetes ServiceAccount whose workload
	// identity is used to authenticate. Not for the "generic" provider,
	// and not together with SecretRef.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// CertSecretRef names a Secret (type Opaque or kubernetes.io/tls) in
	// the same namespace with TLS material for Endpoint: "ca.crt" to trust
	// a private CA, "tls.crt" and "tls.key" for client certificate
	// authentication. Only for the "generic" provider.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`

	// ProxySecretRef names a Secret in the same namespace with the proxy to
	// reach Endpoint through: "address", and optionally "username" and
	// "password".
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Interval between two checks of the bucket for changed objects, such
	// as "5m". The controller adds a little jitter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// Timeout of one listing or download. Defaults to 60s.
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Ignore lists, in .gitignore syntax (one pattern a line), the objects
	// to leave out of the artifact. When unset, a default set is left out,
	// plus what a .sourceignore object in the bucket lists.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// Suspend stops the controller from reconciling this object until it
	// is set back to false; the last artifact stays available.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// BucketSTSSpec says where to get temporary credentials for the bucket.
type BucketSTSSpec struct {
	// Provider of the token service: "aws" (for the "aws" Bucket provider)
	// or "ldap" (for the "generic" one).
	// +kubebuilder:validation:Enum=aws;ldap
	// +required
	Provider string `json:"provider"`

	// Endpoint is the HTTP(S) address of the token service.
	// +kubebuilder:validation:Pattern="^(http|https)://.*$"
	// +required
	Endpoint string `json:"endpoint"`

	// SecretRef names a Secret in the same namespace with the LDAP
	// "username" and "password". Only for the "ldap" provider.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// CertSecretRef names a Secret (type Opaque or kubernetes.io/tls) in
	// the same namespace with TLS material for the token service: "ca.crt",
	// and "tls.crt" and "tls.key" for client certificate authentication.
	// Only for the "ldap" provider.
	// +optional
	CertSecretRef *meta.LocalObjectReference `json:"certSecretRef,omitempty"`
}

// BucketStatus is what the controller last observed and published.
type BucketStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the current state: Ready, Reconciling, Stalled,
	// ArtifactInStorage, ArtifactOutdated, FetchFailed,
	// StorageOperationFailed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is where the latest artifact can be downloaded; it moves with
	// every new artifact. Consumers should prefer Artifact.URL.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the last artifact built from the bucket; its revision is
	// a "sha256:<hex>" digest of the object keys and their ETags.
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`

	// ObservedIgnore is the spec.ignore that Artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""

// Bucket downloads the objects of an S3-compatible, GCS or Azure Blob
// bucket on an interval, and publishes them as an artifact.
type Bucket struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Bucket.
	// +optional
	Spec BucketSpec `json:"spec,omitempty"`

	// Status is the observed state of the Bucket.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status BucketStatus `json:"status,omitempty"`
}

// BucketList is a list of Buckets.
// +kubebuilder:object:root=true
type BucketList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Buckets.
	Items []Bucket `json:"items"`
}

var _ meta.Reconcilable = &Bucket{}

// GetConditions returns status.conditions.
func (in *Bucket) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *Bucket) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *Bucket) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *Bucket) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetTimeout returns spec.timeout, or 60s when unset.
func (in *Bucket) GetTimeout() time.Duration {
	return timeoutOrDefault(in.Spec.Timeout)
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *Bucket) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *Bucket) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest records token in
// status.lastHandledReconcileAt.
func (in *Bucket) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

func init() {
	register(&Bucket{}, &BucketList{})
}
