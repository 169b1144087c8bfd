package artifactgenerator_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/artifactgenerator"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env *testenv.Env
	// storage is the storage that the GitRepository and ArtifactGenerator
	// reconcilers share, as in gotk-controller.
	storage *artifact.Storage
)

// TestMain runs, in one manager against a real API server, the
// GitRepository, ArtifactGenerator and Kustomization reconcilers, with
// artifacts served on loopback: the whole chain from a Git commit to
// applied objects.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunManagers(m, func(e *testenv.Env) { env = e }, start))
}

func start(ctx context.Context, wg *sync.WaitGroup, e *testenv.Env) error {
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "artifactgenerator-test-")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err = artifact.NewStorage(dir+"/storage", ln.Addr().String())
	if err != nil {
		return err
	}
	cacheOpts, err := runtime.DefaultOptions().CacheOptions("")
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:     e.Scheme,
		Cache:      cacheOpts,
		Client:     runtime.ClientOptions(),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	opts.Concurrent = 4
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), e.Scheme, runtime.RecorderOptions{Controller: "gotk-controller"})
	if err := mgr.Add(recorder); err != nil {
		return err
	}
	git := &gitrepository.Reconciler{
		Client: mgr.GetClient(), Storage: storage, Recorder: recorder, Metrics: runtime.DefaultMetrics,
		DependencyRequeue: opts.RequeueDependency,
	}
	if err := git.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	genCache, err := artifact.NewCache(dir+"/generator-cache", &artifact.Fetcher{}, 0)
	if err != nil {
		return err
	}
	gen := &artifactgenerator.Reconciler{
		Client: mgr.GetClient(), Storage: storage, Artifacts: genCache, Recorder: recorder, Metrics: runtime.DefaultMetrics,
		DependencyRequeue: opts.RequeueDependency,
	}
	if err := gen.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	ksCache, err := artifact.NewCache(dir+"/kustomize-cache", &artifact.Fetcher{}, 0)
	if err != nil {
		return err
	}
	ks := &kustomization.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{
			Config: mgr.GetConfig(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), Reader: mgr.GetAPIReader(),
		},
		Artifacts: ksCache,
		Recorder:  recorder,
		Metrics:   runtime.DefaultMetrics,
		Options:   opts,
	}
	if err := ks.SetupWithManager(mgr); err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}
