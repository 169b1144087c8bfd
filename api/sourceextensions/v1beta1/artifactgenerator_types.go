package v1beta1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ArtifactGeneratorKind is the kind of this package's only type.
const ArtifactGeneratorKind = "ArtifactGenerator"

// ReconcileAnnotation, set to ReconcileDisabled, suspends an
// ArtifactGenerator, as Flux's source-watcher does: the kind has no
// spec.suspend.
const (
	ReconcileAnnotation = "source.extensions.fluxcd.io/reconcile"
	ReconcileDisabled   = "Disable"
	ReconcileEnabled    = "Enable"
)

// Copy strategies of an ArtifactGenerator's copy rule.
const (
	// OverwriteStrategy replaces a file that is already at the destination.
	OverwriteStrategy = "Overwrite"
	// MergeStrategy deep-merges a YAML file into the one already at the
	// destination (Helm values files, for example).
	MergeStrategy = "Merge"
	// ExtractStrategy unpacks a tar.gz file into the destination.
	ExtractStrategy = "Extract"
)

// ArtifactGeneratorSpec lists the sources to read and the artifacts to make
// from them.
// +kubebuilder:validation:XValidation:rule="has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, a.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))",message="artifact names must be valid Kubernetes object names when pathPattern is not set"
type ArtifactGeneratorSpec struct {
	// CommonMetadata is added to every ExternalArtifact this generator
	// makes.
	// +optional
	CommonMetadata *meta.CommonMetadata `json:"commonMetadata,omitempty"`

	// Sources are the sources whose artifacts the copy rules read, each
	// known by its alias.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +required
	Sources []SourceReference `json:"sources"`

	// Artifacts are the artifacts to make; each becomes an ExternalArtifact
	// of the same name in the generator's namespace.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +required
	Artifacts []OutputArtifact `json:"artifacts"`

	// PathPattern, as "@alias/pattern", matches directories of a source;
	// named captures of the pattern (such as "{app}") may stand in the
	// artifacts' fields, so that one rule makes an artifact per match.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern="^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$"
	// +optional
	PathPattern string `json:"pathPattern,omitempty"`
}

// SourceReference names a source and gives it an alias for the copy rules.
type SourceReference struct {
	// Alias by which copy rules name this source, as "@alias/path".
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern="^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"
	// +required
	Alias string `json:"alias"`

	// Kind of the source.
	// +kubebuilder:validation:Enum=Bucket;GitRepository;OCIRepository;HelmChart;ExternalArtifact
	// +required
	Kind string `json:"kind"`

	// Name of the source.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern="^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
	// +required
	Name string `json:"name"`

	// Namespace of the source; defaults to the generator's.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// OutputArtifact is one artifact to make and the rules that fill it.
type OutputArtifact struct {
	// Name of the ExternalArtifact to publish; with a PathPattern it may
	// hold capture placeholders such as "{app}".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Revision, as "@alias", takes the artifact's revision from that
	// source; by default it is the digest of the artifact's content.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern="^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"
	// +optional
	Revision string `json:"revision,omitempty"`

	// OriginRevision, as "@alias", sets the artifact's
	// org.opencontainers.image.revision metadata to that source's origin
	// revision (a Git commit, for example), when it has one.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern="^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"
	// +optional
	OriginRevision string `json:"originRevision,omitempty"`

	// Copy rules, applied in order.
	// +kubebuilder:validation:MinItems=1
	// +required
	Copy []CopyOperation `json:"copy"`
}

// CopyOperation copies files from a source into the artifact.
type CopyOperation struct {
	// From is "@alias/path", where path may hold glob patterns.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern="^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$"
	// +required
	From string `json:"from"`

	// To is "@artifact/path", the destination in the artifact.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern="^@(artifact)/(.*)$"
	// +required
	To string `json:"to"`

	// Exclude lists glob patterns of files under From to leave out.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Exclude []string `json:"exclude,omitempty"`

	// Strategy says what happens to a file already at the destination:
	// Overwrite (the default), Merge or Extract.
	// +kubebuilder:validation:Enum=Overwrite;Merge;Extract
	// +optional
	Strategy string `json:"strategy,omitempty"`
}

// ArtifactGeneratorStatus is the observed state of an ArtifactGenerator.
type ArtifactGeneratorStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions hold the latest observations of the generator's state.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Inventory lists the ExternalArtifacts that this generator made.
	// +optional
	Inventory []ExternalArtifactReference `json:"inventory,omitempty"`

	// ObservedSourcesDigest is the digest of the revisions of every source
	// at the last generation, so that unchanged sources cost nothing.
	// +optional
	ObservedSourcesDigest string `json:"observedSourcesDigest,omitempty"`
}

// ExternalArtifactReference names one ExternalArtifact that a generator
// made, with the digest and file name of its artifact.
type ExternalArtifactReference struct {
	// Name of the ExternalArtifact.
	// +required
	Name string `json:"name"`

	// Namespace of the ExternalArtifact.
	// +required
	Namespace string `json:"namespace"`

	// Digest of the artifact file.
	// +required
	Digest string `json:"digest"`

	// Filename of the artifact in storage.
	// +required
	Filename string `json:"filename"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ag,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""

// ArtifactGenerator composes artifacts from the artifacts of other sources
// (Git, OCI, buckets, Helm charts, other generated artifacts) with copy
// rules, and publishes each as an ExternalArtifact that a Kustomization or
// a HelmRelease can consume.
type ArtifactGenerator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the ArtifactGenerator.
	// +optional
	Spec ArtifactGeneratorSpec `json:"spec,omitempty"`

	// Status is the observed state of the ArtifactGenerator.
	// +optional
	Status ArtifactGeneratorStatus `json:"status,omitempty"`
}

// ArtifactGeneratorList is a list of ArtifactGenerators.
// +kubebuilder:object:root=true
type ArtifactGeneratorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ArtifactGenerators.
	Items []ArtifactGenerator `json:"items"`
}

var _ meta.ObjectWithConditions = &ArtifactGenerator{}

// GetConditions returns status.conditions.
func (in *ArtifactGenerator) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *ArtifactGenerator) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// IsSuspended reports whether the ReconcileAnnotation disables the
// generator (case-insensitively, as Flux reads it).
func (in *ArtifactGenerator) IsSuspended() bool {
	return strings.EqualFold(in.GetAnnotations()[ReconcileAnnotation], ReconcileDisabled)
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *ArtifactGenerator) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *ArtifactGenerator) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}
