// Package scheme builds the runtime.Scheme that gotk's binaries and tests
// share: Kubernetes' built-in kinds, CRDs, and every gotk API group.
package scheme

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	imagev1 "github.com/gotk-dev/gotk/api/image/v1"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	sourceextv1beta1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
)

// New returns a scheme with every kind gotk reads or writes.
func New() *kruntime.Scheme {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		sourcev1.AddToScheme,
		sourceextv1beta1.AddToScheme,
		kustomizev1.AddToScheme,
		helmv2.AddToScheme,
		notificationv1.AddToScheme,
		notificationv1beta3.AddToScheme,
		imagev1.AddToScheme,
	} {
		utilruntime.Must(add(s))
	}
	return s
}
