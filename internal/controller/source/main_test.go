package source

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
	"github.com/gotk-dev/gotk/internal/controller/bucket"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

// TestMain runs the OCIRepository, Bucket and Kustomization reconcilers in
// one manager against a real API server, so that Kustomizations apply
// what those sources store.
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
	dir, err := os.MkdirTemp("", "source-test-")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err := artifact.NewStorage(dir+"/storage", ln.Addr().String())
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
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), e.Scheme, runtime.RecorderOptions{})
	oci := &ocirepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := oci.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	b := &bucket.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := b.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	cache, err := artifact.NewCache(dir+"/cache", &artifact.Fetcher{}, 0)
	if err != nil {
		return err
	}
	k := &kustomization.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{
			Config: mgr.GetConfig(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), Reader: mgr.GetAPIReader(),
		},
		Artifacts: cache,
		Recorder:  recorder,
		Metrics:   runtime.DefaultMetrics,
		Options:   opts,
	}
	if err := k.SetupWithManager(mgr); err != nil {
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
