package helmchart

import (
	"fmt"
	"os"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/helmrepository"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	"github.com/gotk-dev/gotk/internal/testenv/sourcemgr"
)

var (
	env     *testenv.Env
	storage *artifact.Storage
	// charts is the HelmChart reconciler, whose index cache tests read.
	charts *Reconciler
)

// TestMain runs the HelmChart, HelmRepository and GitRepository reconcilers in a manager against a real API server,
// with its artifacts served over HTTP on loopback.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) {
		env = e
		if err := startManager(e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}))
}

func startManager(e *testenv.Env) error {
	var err error
	storage, err = sourcemgr.Start(e, "helmchart", func(mgr ctrl.Manager, storage *artifact.Storage, recorder *runtime.Recorder) error {
		opts := runtime.DefaultOptions()
		opts.RequeueDependency = time.Second
		repos := &helmrepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics}
		if err := repos.SetupWithManager(mgr, opts); err != nil {
			return err
		}
		git := &gitrepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics,
			DependencyRequeue: opts.RequeueDependency}
		if err := git.SetupWithManager(mgr, opts); err != nil {
			return err
		}
		charts = &Reconciler{
			Client:            mgr.GetClient(),
			Storage:           storage,
			Recorder:          recorder,
			Metrics:           runtime.DefaultMetrics,
			DependencyRequeue: opts.RequeueDependency,
			// Large enough that the parallel tests never evict each
			// other's indexes.
			Indexes: helm.NewIndexCache(256),
		}
		return charts.SetupWithManager(mgr, opts)
	})
	return err
}
