// Package v1 holds the kinds of the image.toolkit.fluxcd.io API group:
// ImageRepository scans a container registry for tags, ImagePolicy picks the
// latest of them, and ImageUpdateAutomation writes the pick back to Git.
//
// +kubebuilder:object:generate=true
// +groupName=image.toolkit.fluxcd.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of the kinds in this package.
var GroupVersion = schema.GroupVersion{Group: "image.toolkit.fluxcd.io", Version: "v1"}

// SchemeBuilder collects the functions that add the kinds of this package
// to a scheme; each kind's file registers itself in its init function.
var SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
})

// AddToScheme adds every kind of this package to s.
func AddToScheme(s *runtime.Scheme) error {
	return SchemeBuilder.AddToScheme(s)
}

// addKnownTypes returns a scheme function that adds objs under GroupVersion.
func addKnownTypes(objs ...runtime.Object) func(*runtime.Scheme) error {
	return func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objs...)
		return nil
	}
}
