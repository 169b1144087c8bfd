package notification

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env *testenv.Env
	// cfg is the notification controller under test; its event server
	// listens on eventsURL.
	cfg       *Config
	eventsURL string
	// recorder posts events to eventsURL, as every controller does.
	recorder *runtime.Recorder
)

// TestMain runs the source, kustomize and notification controllers in one
// manager against a real API server, the controllers posting their events
// to the notification controller's event server over loopback HTTP.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunManagers(m, func(e *testenv.Env) { env = e }, startManager))
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startManager(ctx context.Context, wg *sync.WaitGroup, e *testenv.Env) error {
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "notification-test-")
	if err != nil {
		return err
	}
	eventsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	storageAddr, err := freeAddr()
	if err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	opts.StoragePath = filepath.Join(dir, "storage")
	opts.StorageAddr = storageAddr
	opts.StorageAdvAddr = storageAddr
	opts.EventsAddr = "http://" + eventsAddr + "/"
	eventsURL = opts.EventsAddr

	cacheOpts, err := opts.CacheOptions("")
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
	recorder = runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), e.Scheme,
		runtime.RecorderOptions{Endpoint: opts.EventsAddr, Controller: "kustomize-controller", Instance: "test"})
	if err := mgr.Add(recorder); err != nil {
		return err
	}
	deps := controller.Deps{Options: opts, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	cfg = DefaultConfig()
	cfg.EventsListenAddr = eventsAddr
	for _, setup := range []controller.Setup{source.Setup, kustomization.Setup, cfg.Setup} {
		if err := setup(mgr, deps); err != nil {
			return err
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = cfg.Server.Bound(wait)
	return err
}
