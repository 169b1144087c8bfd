package helmrelease

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Register registers the "helm" controller for the binaries that hold it.
func Register() { controller.Register("helm", Setup) }

// Setup adds the HelmRelease reconciler to mgr: the "helm" controller.
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{
			Config:                mgr.GetConfig(),
			Scheme:                mgr.GetScheme(),
			Mapper:                mgr.GetRESTMapper(),
			Reader:                mgr.GetAPIReader(),
			DefaultServiceAccount: deps.Options.DefaultServiceAccount,
			InsecureKubeconfigTLS: deps.Options.InsecureKubeconfigTLS,
		},
		Fetcher:  &artifact.Fetcher{},
		Recorder: deps.Recorder,
		Metrics:  deps.Metrics,
		Options:  deps.Options,
	}
	return r.SetupWithManager(mgr)
}
