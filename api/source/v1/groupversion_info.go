// Package v1 holds the source.toolkit.fluxcd.io/v1 API: the kinds that
// fetch content from Git servers, OCI registries, Helm repositories and
// object storage buckets, and publish it as versioned artifacts that other
// controllers (Kustomization, HelmRelease) consume.
//
// +kubebuilder:object:generate=true
// +groupName=source.toolkit.fluxcd.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this package's kinds.
	GroupVersion = schema.GroupVersion{Group: "source.toolkit.fluxcd.io", Version: "v1"}

	// SchemeBuilder collects the functions that register this package's
	// kinds; each kind's file adds its own in init.
	SchemeBuilder = runtime.NewSchemeBuilder(addGroupVersion)

	// AddToScheme registers every kind of this package with a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addGroupVersion registers the shared meta types (ListOptions, Status,
// WatchEvent, ...) for this group version.
func addGroupVersion(s *runtime.Scheme) error {
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// register adds objs to the kinds that AddToScheme registers.
func register(objs ...runtime.Object) {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objs...)
		return nil
	})
}
