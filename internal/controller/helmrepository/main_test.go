package helmrepository

import (
	"fmt"
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	"github.com/gotk-dev/gotk/internal/testenv/sourcemgr"
)

// testIndexMaxSize is the --helm-index-max-size of the tests' reconciler:
// small, so that an index over it is quick to make.
const testIndexMaxSize = 256 << 10

var (
	env     *testenv.Env
	storage *artifact.Storage
)

// TestMain runs the reconciler in a manager against a real API server,
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
	storage, err = sourcemgr.Start(e, "helmrepository", func(mgr ctrl.Manager, storage *artifact.Storage, recorder *runtime.Recorder) error {
		r := &Reconciler{
			Client:       mgr.GetClient(),
			Storage:      storage,
			Recorder:     recorder,
			Metrics:      runtime.DefaultMetrics,
			IndexMaxSize: testIndexMaxSize,
		}
		return r.SetupWithManager(mgr, runtime.DefaultOptions())
	})
	return err
}
