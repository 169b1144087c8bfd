// Package v1beta1 holds the source.extensions.fluxcd.io/v1beta1 API: the
// ArtifactGenerator, which composes new artifacts from the artifacts of
// other sources and publishes each as an ExternalArtifact.
//
// +kubebuilder:object:generate=true
// +groupName=source.extensions.fluxcd.io
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this package's kinds.
	GroupVersion = schema.GroupVersion{Group: "source.extensions.fluxcd.io", Version: "v1beta1"}

	// SchemeBuilder collects the functions that register this package's
	// kinds.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme registers every kind of this package with a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ArtifactGenerator{}, &ArtifactGeneratorList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
