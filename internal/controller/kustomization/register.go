package kustomization

import (
	"fmt"
	"os"
	"path/filepath"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
)

// Setup adds the Kustomization reconciler to mgr, with an artifact cache
// in the temporary directory that every Kustomization shares.
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
	dir := filepath.Join(os.TempDir(), "gotk-kustomize-artifacts")
	cache, err := artifact.NewCache(dir, &artifact.Fetcher{}, 0)
	if err != nil {
		return fmt.Errorf("artifact cache in %s: %w", dir, err)
	}
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &ClientFactory{
			Config:                mgr.GetConfig(),
			Scheme:                mgr.GetScheme(),
			Mapper:                mgr.GetRESTMapper(),
			Reader:                mgr.GetAPIReader(),
			DefaultServiceAccount: deps.Options.DefaultServiceAccount,
		},
		Artifacts: cache,
		Recorder:  deps.Recorder,
		Metrics:   deps.Metrics,
		Options:   deps.Options,
	}
	return r.SetupWithManager(mgr)
}
