package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// ExternalArtifactKind is the kind of artifacts that another controller
// than the source controller produces, such as an ArtifactGenerator.
const ExternalArtifactKind = "ExternalArtifact"

// ExternalArtifactSpec names the producer of the artifact.
type ExternalArtifactSpec struct {
	// SourceRef points at the object that produces this artifact, such as
	// an ArtifactGenerator.
	// +optional
	SourceRef *meta.NamespacedObjectKindReference `json:"sourceRef,omitempty"`
}

// ExternalArtifactStatus is the artifact that the producer published.
type ExternalArtifactStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions hold the latest observations of the artifact's state.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Artifact is the artifact that the producer stored last.
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ea,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""
// +kubebuilder:printcolumn:name="Source",type="string",JSONPath=".spec.sourceRef.name",description=""

// ExternalArtifact is an artifact that a controller other than the source
// controller publishes, in the same shape as a source's artifact, so that a
// Kustomization or a HelmRelease can consume it like any source. It has no
// interval of its own: its producer writes the status.
type ExternalArtifact struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the producer.
	// +optional
	Spec ExternalArtifactSpec `json:"spec,omitempty"`

	// Status is the published artifact.
	// +optional
	Status ExternalArtifactStatus `json:"status,omitempty"`
}

// ExternalArtifactList is a list of ExternalArtifacts.
// +kubebuilder:object:root=true
type ExternalArtifactList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ExternalArtifacts.
	Items []ExternalArtifact `json:"items"`
}

var _ meta.ObjectWithConditions = &ExternalArtifact{}

// GetConditions returns status.conditions.
func (in *ExternalArtifact) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *ExternalArtifact) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *ExternalArtifact) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

func init() {
	register(&ExternalArtifact{}, &ExternalArtifactList{})
}
