// Package sourcemgr starts what the tests of a source reconciler need: a
// manager against the test API server, and an artifact storage served
// over HTTP on loopback, as gotk-controller serves it.
package sourcemgr

import (
	"context"
	"fmt"
	"net"
	"os"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// Setup adds the reconcilers under test to mgr; they store their
// artifacts in storage and record events with recorder.
type Setup func(mgr ctrl.Manager, storage *artifact.Storage, recorder *runtime.Recorder) error

// Start creates a storage in a temporary folder and serves it on loopback,
// runs setup, and starts the manager for the rest of the test binary's
// life. Logs go to stderr at error level, or all of them with
// GOTK_TEST_LOG set.
func Start(e *testenv.Env, name string, setup Setup) (*artifact.Storage, error) {
	level := zapcore.Level(2)
	if os.Getenv("GOTK_TEST_LOG") != "" {
		level = -1
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	dir, err := os.MkdirTemp("", name+"-storage-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	storage, err := artifact.NewStorage(dir, ln.Addr().String())
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{Scheme: e.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return nil, err
	}
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("source-controller"), e.Scheme, runtime.RecorderOptions{})
	if err := setup(mgr, storage, recorder); err != nil {
		return nil, err
	}
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return storage, nil
}
