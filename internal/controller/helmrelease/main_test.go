package helmrelease

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/helmchart"
	"github.com/gotk-dev/gotk/internal/controller/helmrepository"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env *testenv.Env
	// artifacts is the storage of the source reconcilers, served on
	// loopback.
	artifacts *artifact.Storage
	// reconciler is the HelmRelease reconciler the tests run.
	reconciler *Reconciler
	// actionRequests sees the requests of the Helm actions and of drift
	// detection: those that go through the reconciler's ClientFactory.
	actionRequests = &requests{}
)

// TestMain runs the HelmRepository, HelmChart, OCIRepository and
// HelmRelease reconcilers in one manager against a real API server, with
// the source artifacts served over HTTP on loopback.
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
	dir, err := os.MkdirTemp("", "helmrelease-storage-")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err := artifact.NewStorage(dir, ln.Addr().String())
	if err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	cacheOpts, err := opts.CacheOptions("")
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:  e.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cacheOpts,
		Client:  runtime.ClientOptions(),
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return err
	}
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("helm-controller"), e.Scheme, runtime.RecorderOptions{})
	repos := &helmrepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := repos.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	charts := &helmchart.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder,
		Metrics: runtime.DefaultMetrics, DependencyRequeue: opts.RequeueDependency}
	if err := charts.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	ocis := &ocirepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := ocis.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	artifacts = storage
	actionConfig := rest.CopyConfig(mgr.GetConfig())
	actionConfig.Wrap(actionRequests.RoundTrip)
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{
			Config: actionConfig,
			Scheme: mgr.GetScheme(),
			Mapper: mgr.GetRESTMapper(),
			Reader: mgr.GetAPIReader(),
		},
		Fetcher:  &artifact.Fetcher{},
		Recorder: recorder,
		Metrics:  runtime.DefaultMetrics,
		Options:  opts,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	reconciler = r
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}
