package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// KustomizationKind is the kind name of Kustomization.
const KustomizationKind = "Kustomization"

// Values of spec.deletionPolicy: what happens to the applied objects when
// the Kustomization is deleted.
const (
	// DeletionPolicyMirrorPrune deletes the applied objects when
	// spec.prune is true and keeps them otherwise. This is the default.
	DeletionPolicyMirrorPrune = "MirrorPrune"

	// DeletionPolicyDelete deletes the applied objects, whatever spec.prune
	// says.
	DeletionPolicyDelete = "Delete"

	// DeletionPolicyWaitForTermination deletes the applied objects and
	// waits, up to spec.timeout, until they are gone before the
	// Kustomization goes away.
	DeletionPolicyWaitForTermination = "WaitForTermination"

	// DeletionPolicyOrphan keeps the applied objects, whatever spec.prune
	// says.
	DeletionPolicyOrphan = "Orphan"
)

// Values of spec.postBuild.substituteStrategy.
const (
	// SubstituteWithVariables substitutes only when at least one variable
	// is defined, inline or through substituteFrom. This is the default.
	SubstituteWithVariables = "WithVariables"

	// SubstituteAlways substitutes even when no variable is defined, so
	// that defaults such as ${var:=default} take effect.
	SubstituteAlways = "Always"
)

// Values of spec.buildMetadata.
const (
	// OriginAnnotations annotates each built object with the file and
	// repository it came from.
	OriginAnnotations = "originAnnotations"

	// TransformerAnnotations annotates each built object with the
	// kustomize transformers that changed it.
	TransformerAnnotations = "transformerAnnotations"
)

// DecryptionProviderSOPS is the only value of spec.decryption.provider.
const DecryptionProviderSOPS = "sops"

// KustomizationSpec is the desired state of a Kustomization: which source
// to build, how to build it, and how to apply and check the result.
type KustomizationSpec struct {
	// SourceRef names the GitRepository, OCIRepository, Bucket or
	// ExternalArtifact whose artifact holds the manifests.
	// +required
	SourceRef CrossNamespaceSourceReference `json:"sourceRef"`

	// Path to the directory in the artifact that holds the
	// kustomization.yaml, or plain YAML files for which one is generated.
	// Defaults to the root of the artifact.
	// +optional
	Path string `json:"path,omitempty"`

	// Interval between two reconciles of the Kustomization, such as "10m".
	// The controller adds some jitter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// RetryInterval is how soon a failed reconcile is retried. Defaults to
	// Interval.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`

	// Timeout bounds the dry-run, apply and health check of one reconcile.
	// Defaults to Interval.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Prune deletes the objects that were applied before but are no longer
	// in the built manifests.
	// +required
	Prune bool `json:"prune"`

	// DeletionPolicy chooses what happens to the applied objects when the
	// Kustomization is deleted: MirrorPrune (the default: follow Prune),
	// Delete, WaitForTermination (delete and wait until they are gone) or
	// Orphan (keep them).
	// +kubebuilder:validation:Enum=MirrorPrune;Delete;WaitForTermination;Orphan
	// +optional
	DeletionPolicy string `json:"deletionPolicy,omitempty"`

	// Wait checks the health of every applied object after the apply, in
	// place of HealthChecks.
	// +optional
	Wait bool `json:"wait,omitempty"`

	// HealthChecks lists the objects whose health is checked after the
	// apply, when Wait is false.
	// +optional
	HealthChecks []meta.NamespacedObjectKindReference `json:"healthChecks,omitempty"`

	// HealthCheckExprs tell, with CEL expressions, how to read the health
	// of kinds that the built-in checks do not understand. They are used
	// only when Wait is true or HealthChecks is set.
	// +optional
	HealthCheckExprs []meta.CustomHealthCheck `json:"healthCheckExprs,omitempty"`

	// DependsOn lists Kustomizations that must be ready before this one is
	// reconciled.
	// +optional
	DependsOn []meta.DependencyReference `json:"dependsOn,omitempty"`

	// ServiceAccountName is the service account, in the Kustomization's
	// namespace, that the controller impersonates to apply and prune.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// KubeConfig makes the controller apply to a remote cluster instead of
	// its own. Combined with ServiceAccountName, it impersonates that
	// account on the remote cluster.
	// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) || has(self.secretRef)",message="exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
	// +kubebuilder:validation:XValidation:rule="!has(self.configMapRef) || !has(self.secretRef)",message="exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
	// +optional
	KubeConfig *meta.KubeConfigReference `json:"kubeConfig,omitempty"`

	// TargetNamespace sets the namespace of every namespaced object,
	// overriding the namespace in the kustomization.yaml.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	TargetNamespace string `json:"targetNamespace,omitempty"`

	// NamePrefix is prepended to the name of every object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +optional
	NamePrefix string `json:"namePrefix,omitempty"`

	// NameSuffix is appended to the name of every object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +optional
	NameSuffix string `json:"nameSuffix,omitempty"`

	// CommonMetadata sets labels and annotations on every applied object,
	// replacing values under the same keys.
	// +optional
	CommonMetadata *meta.CommonMetadata `json:"commonMetadata,omitempty"`

	// Patches are strategic merge or JSON 6902 patches applied to the
	// built objects that their target selects.
	// +optional
	Patches []meta.Patch `json:"patches,omitempty"`

	// Images rewrite container image names, tags or digests in the built
	// objects; simpler than a patch for this common case.
	// +optional
	Images []meta.Image `json:"images,omitempty"`

	// Components are paths, relative to Path, of kustomize Components to
	// add to the build.
	// +optional
	Components []string `json:"components,omitempty"`

	// IgnoreMissingComponents drops the Components that do not exist in
	// the artifact instead of failing the build.
	// +optional
	IgnoreMissingComponents bool `json:"ignoreMissingComponents,omitempty"`

	// BuildMetadata asks kustomize to annotate the built objects with
	// where they came from (originAnnotations) or what changed them
	// (transformerAnnotations).
	// +optional
	BuildMetadata []BuildMetadataOption `json:"buildMetadata,omitempty"`

	// PostBuild substitutes variables in the built manifests before they
	// are applied.
	// +optional
	PostBuild *PostBuild `json:"postBuild,omitempty"`

	// Decryption decrypts SOPS-encrypted Secrets in the built manifests
	// before they are applied.
	// +optional
	Decryption *Decryption `json:"decryption,omitempty"`

	// Force deletes and recreates an object when an apply fails because an
	// immutable field changed.
	// +kubebuilder:default:=false
	// +optional
	Force bool `json:"force,omitempty"`

	// Ignore lists fields that drift detection and apply leave alone, such
	// as a replica count that an autoscaler owns.
	// +optional
	Ignore []meta.IgnoreRule `json:"ignore,omitempty"`

	// Suspend stops reconciles of this Kustomization until it is set back
	// to false; a reconcile already running finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// CrossNamespaceSourceReference names the source object, in any namespace
// the controller allows, whose artifact a Kustomization builds.
type CrossNamespaceSourceReference struct {
	// APIVersion of the source, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source.
	// +kubebuilder:validation:Enum=OCIRepository;GitRepository;Bucket;ExternalArtifact
	// +required
	Kind string `json:"kind"`

	// Name of the source.
	// +required
	Name string `json:"name"`

	// Namespace of the source; defaults to the Kustomization's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// String returns "<kind>/<namespace>/<name>", or "<kind>/<name>" when the
// namespace is empty.
func (in CrossNamespaceSourceReference) String() string {
	if in.Namespace != "" {
		return in.Kind + "/" + in.Namespace + "/" + in.Name
	}
	return in.Kind + "/" + in.Name
}

// BuildMetadataOption is one kind of metadata that kustomize can add to
// the objects it builds.
// +kubebuilder:validation:Enum=originAnnotations;transformerAnnotations
type BuildMetadataOption string

// PostBuild holds the variable substitution done on the built manifests.
// Variables are written ${name} in the manifests and support bash-style
// defaults and edits such as ${name:=default} and ${name/old/new}.
type PostBuild struct {
	// Substitute maps variable names to their values.
	// +optional
	Substitute map[string]string `json:"substitute,omitempty"`

	// SubstituteFrom lists ConfigMaps and Secrets whose data keys are
	// variable names and whose values are the variables' values. Later
	// entries override earlier ones; Substitute overrides them all.
	// +optional
	SubstituteFrom []SubstituteReference `json:"substituteFrom,omitempty"`

	// SubstituteStrategy chooses whether to substitute only when some
	// variable is defined (WithVariables, the default) or always (Always).
	// +kubebuilder:validation:Enum=WithVariables;Always
	// +optional
	SubstituteStrategy string `json:"substituteStrategy,omitempty"`
}

// SubstituteReference names a ConfigMap or Secret that holds variables for
// post-build substitution.
type SubstituteReference struct {
	// Kind of the object: Secret or ConfigMap.
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	// +required
	Kind string `json:"kind"`

	// Name of the object, in the Kustomization's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Optional lets the build go on without these variables when the
	// object does not exist.
	// +kubebuilder:default:=false
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// Decryption configures how encrypted Secrets in the built manifests are
// decrypted.
type Decryption struct {
	// Provider of the decryption; only "sops" is supported.
	// +kubebuilder:validation:Enum=sops
	// +required
	Provider string `json:"provider"`

	// SecretRef names a Secret, in the Kustomization's namespace, holding
	// the private keys (age, OpenPGP) or cloud KMS credentials used to
	// decrypt. Credentials in it take precedence over ServiceAccountName.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// ServiceAccountName is a service account, in the Kustomization's
	// namespace, whose workload identity is used to reach a cloud KMS.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// KustomizationStatus is the observed state of a Kustomization.
type KustomizationStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the last generation the controller reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions report Ready, Reconciling, Stalled and Healthy.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastAppliedRevision is the revision of the source artifact that was
	// last applied successfully.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastAppliedOriginRevision is the revision of the origin of the last
	// applied artifact, such as the Git commit recorded in an OCI
	// artifact's "org.opencontainers.image.revision" annotation.
	// +optional
	LastAppliedOriginRevision string `json:"lastAppliedOriginRevision,omitempty"`

	// LastAttemptedRevision is the revision of the source artifact of the
	// last reconcile, successful or not.
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`

	// Inventory lists the objects applied by the last successful
	// reconcile; they are the candidates for pruning.
	// +optional
	Inventory *meta.ResourceInventory `json:"inventory,omitempty"`

	// History records the last reconciles, one entry per distinct set of
	// applied objects, newest first.
	// +optional
	History History `json:"history,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ks,categories={all,fluxcd,fluxcd-appliers}
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"

// Kustomization builds the manifests in a source artifact with kustomize,
// applies them to the cluster, prunes what was removed, and checks that
// the result is healthy.
type Kustomization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Kustomization.
	// +optional
	Spec KustomizationSpec `json:"spec,omitempty"`

	// Status is the observed state of the Kustomization.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status KustomizationStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &Kustomization{}

// GetConditions returns the status conditions.
func (in *Kustomization) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *Kustomization) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval, the time between two reconciles.
func (in *Kustomization) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// GetRetryInterval returns spec.retryInterval, or spec.interval when it is
// not set: how soon a failed reconcile is retried.
func (in *Kustomization) GetRetryInterval() time.Duration {
	if in.Spec.RetryInterval != nil {
		return in.Spec.RetryInterval.Duration
	}
	return in.GetRequeueAfter()
}

// GetTimeout returns spec.timeout, or spec.interval when it is not set.
func (in *Kustomization) GetTimeout() time.Duration {
	if in.Spec.Timeout != nil {
		return in.Spec.Timeout.Duration
	}
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *Kustomization) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetDependsOn returns the Kustomizations that must be ready first.
func (in *Kustomization) GetDependsOn() []meta.DependencyReference {
	return in.Spec.DependsOn
}

// GetDeletionPolicy returns spec.deletionPolicy, or MirrorPrune when it is
// not set.
func (in *Kustomization) GetDeletionPolicy() string {
	if in.Spec.DeletionPolicy == "" {
		return DeletionPolicyMirrorPrune
	}
	return in.Spec.DeletionPolicy
}

// PruneOnDelete reports whether the applied objects are deleted along with
// the Kustomization, according to the deletion policy and spec.prune.
func (in *Kustomization) PruneOnDelete() bool {
	switch in.GetDeletionPolicy() {
	case DeletionPolicyDelete, DeletionPolicyWaitForTermination:
		return true
	case DeletionPolicyOrphan:
		return false
	default:
		return in.Spec.Prune
	}
}

// GetSourceNamespace returns the namespace of the source, defaulting to
// the Kustomization's.
func (in *Kustomization) GetSourceNamespace() string {
	if in.Spec.SourceRef.Namespace != "" {
		return in.Spec.SourceRef.Namespace
	}
	return in.Namespace
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *Kustomization) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *Kustomization) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// +kubebuilder:object:root=true

// KustomizationList is a list of Kustomizations.
type KustomizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the Kustomizations.
	Items []Kustomization `json:"items"`
}

func init() {
	register(&Kustomization{}, &KustomizationList{})
}
