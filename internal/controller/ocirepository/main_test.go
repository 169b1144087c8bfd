package ocirepository

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

var (
	env     *testenv.Env
	storage *artifact.Storage
)

// maxSize is the layer size cap of the reconciler under test.
const maxSize = 1 << 20

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
	storage, err = sourcemgr.Start(e, "ocirepository", func(mgr ctrl.Manager, storage *artifact.Storage, recorder *runtime.Recorder) error {
		r := &Reconciler{
			Client:   mgr.GetClient(),
			Storage:  storage,
			Recorder: recorder,
			Metrics:  runtime.DefaultMetrics,
			Limits:   artifact.Limits{MaxSize: maxSize},
		}
		return r.SetupWithManager(mgr, runtime.DefaultOptions())
	})
	return err
}
