// Package v2 holds the helm.toolkit.fluxcd.io/v2 API: the HelmRelease kind,
// which installs a Helm chart into a cluster and keeps the release in step
// with the chart and values declared in Git, with tests, remediation of
// failed releases and drift correction.
//
// +kubebuilder:object:generate=true
// +groupName=helm.toolkit.fluxcd.io
package v2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this package's kinds.
	GroupVersion = schema.GroupVersion{Group: "helm.toolkit.fluxcd.io", Version: "v2"}

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
