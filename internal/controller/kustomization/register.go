package kustomization

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Register registers the "kustomize" controller for the binaries that
// hold it.
func Register() { controller.Register("kustomize", Setup) }

// Setup adds the Kustomization reconciler to mgr, with an artifact cache
// that every Kustomization shares, in a temporary directory of its own (so
// that two controllers on one machine never clean each other's).
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
	dir, err := os.MkdirTemp("", "gotk-kustomize-artifacts-")
	if err != nil {
		return fmt.Errorf("artifact cache: %w", err)
	}
	cache, err := artifact.NewCache(dir, &artifact.Fetcher{}, 0)
	if err != nil {
		return fmt.Errorf("artifact cache in %s: %w", dir, err)
	}
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
		Artifacts: cache,
		Recorder:  deps.Recorder,
		Metrics:   deps.Metrics,
		Options:   deps.Options,

		StrictSubstitutions: deps.Options.Feature(runtime.StrictPostBuildSubstitutions),
	}
	return r.SetupWithManager(mgr)
}
