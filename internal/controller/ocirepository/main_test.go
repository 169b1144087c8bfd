package ocirepository

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
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
	level := zapcore.Level(2)
	if os.Getenv("GOTK_TEST_LOG") != "" {
		level = -1
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	dir, err := os.MkdirTemp("", "ocirepository-storage-")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err = artifact.NewStorage(dir, ln.Addr().String())
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{Scheme: e.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	r := &Reconciler{
		Client:   mgr.GetClient(),
		Storage:  storage,
		Recorder: runtime.NewRecorder(mgr.GetEventRecorderFor("source-controller"), e.Scheme, runtime.RecorderOptions{}),
		Metrics:  runtime.DefaultMetrics,
		Limits:   artifact.Limits{MaxSize: maxSize},
	}
	if err := r.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}
