package receiver

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
	gotkcontroller "github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/receiver"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env *testenv.Env
	// hookBase is the URL of the webhook server, such as
	// http://127.0.0.1:12345.
	hookBase string
)

// maxBody is the body cap of the test server, small so that the test of
// the cap sends little.
const maxBody = 64 << 10

// TestMain runs the Receiver reconciler and webhook server, and the
// GitRepository and Kustomization reconcilers that the webhooks wake, in
// one manager against a real API server.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunManagers(m, func(e *testenv.Env) { env = e }, startManager))
}

func startManager(ctx context.Context, wg *sync.WaitGroup, e *testenv.Env) error {
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "receiver-test-")
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
	storeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err := artifact.NewStorage(dir+"/storage", storeLn.Addr().String())
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: storeLn, Storage: storage}); err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), e.Scheme,
		runtime.RecorderOptions{Controller: "gotk-controller"})
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
	deps := gotkcontroller.Deps{Options: opts, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := kustomization.Setup(mgr, deps); err != nil {
		return err
	}
	r := &Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Metrics: runtime.DefaultMetrics,
		TokenRequeue: time.Second,
	}
	if err := r.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hookBase = "http://" + hookLn.Addr().String()
	certsURL, err := startGoogleCerts()
	if err != nil {
		return err
	}
	if err := mgr.Add(&receiver.Server{
		Listener:     hookLn,
		Client:       mgr.GetClient(),
		Reader:       mgr.GetAPIReader(),
		MaxBodySize:  maxBody,
		ReplayWindow: time.Hour,
		// gcr tokens are signed by googleKey, whose JWK set is served
		// on loopback.
		GoogleCertsURL: certsURL,
		Log:            mgr.GetLogger().WithName("receiver-server"),
	}); err != nil {
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
