package kustomization

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var (
	env *testenv.Env
	// events receives what the reconcilers post to the notification
	// endpoint.
	events *eventSink
	// workDir holds the artifact storage and the Kustomizations' artifact
	// cache: all that the controllers write to disk.
	workDir string
)

// lockdownLabel marks the Kustomizations that the locked-down reconciler
// handles (and the default one leaves alone): it runs with
// --no-cross-namespace-refs, --no-remote-bases, --default-service-account
// and strict substitutions, as a multi-tenant installation would.
const (
	lockdownLabel          = "gotk.test/lockdown"
	lockdownServiceAccount = "tenant-default"
)

// TestMain runs the GitRepository reconciler and two Kustomization
// reconcilers (the default one, and a locked-down one for objects labelled
// lockdownLabel) in two managers against a real API server, with artifacts
// served on loopback and events posted to a loopback HTTP server.
func TestMain(m *testing.M) {
	os.Exit(testenv.RunManagers(m, func(e *testenv.Env) { env = e }, startManagers))
}

func startManagers(ctx context.Context, wg *sync.WaitGroup, e *testenv.Env) error {
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "kustomization-test-")
	if err != nil {
		return err
	}
	workDir = dir
	if events, err = startEventSink(); err != nil {
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
	mgr, err := newManager(e)
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	opts.Concurrent = 8
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), e.Scheme,
		runtime.RecorderOptions{Endpoint: events.url, Controller: "kustomize-controller"})
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
	cache, err := artifact.NewCache(dir+"/cache", &artifact.Fetcher{}, 0)
	if err != nil {
		return err
	}

	plain := opts
	plain.WatchLabelSelector = "!" + lockdownLabel + ",!" + serialLabel
	if err := newReconciler(mgr, cache, recorder, plain, "").SetupWithManager(mgr); err != nil {
		return err
	}

	locked, err := newManager(e)
	if err != nil {
		return err
	}
	lockOpts := opts
	lockOpts.WatchLabelSelector = lockdownLabel
	lockOpts.NoCrossNamespaceRefs = true
	lockOpts.NoRemoteBases = true
	lockOpts.DefaultServiceAccount = lockdownServiceAccount
	lr := newReconciler(locked, cache, recorder, lockOpts, lockdownServiceAccount)
	lr.StrictSubstitutions = true
	if err := lr.SetupWithManager(locked); err != nil {
		return err
	}
	for _, m := range []ctrl.Manager{mgr, locked} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Start(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
				os.Exit(1)
			}
		}()
	}
	return nil
}

// newManager makes a manager with gotk-controller's cache and client
// settings (labelled ConfigMaps and Secrets cached, none read from it).
func newManager(e *testenv.Env) (ctrl.Manager, error) {
	cacheOpts, err := runtime.DefaultOptions().CacheOptions("")
	if err != nil {
		return nil, err
	}
	return ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:         e.Scheme,
		Cache:          cacheOpts,
		Client:         runtime.ClientOptions(),
		MapperProvider: runtime.MapperProvider,
		Metrics:        metricsserver.Options{BindAddress: "0"},
		Controller:     config.Controller{SkipNameValidation: ptr.To(true)},
	})
}

func newReconciler(mgr ctrl.Manager, cache *artifact.Cache, recorder *runtime.Recorder, opts runtime.Options, defaultSA string) *Reconciler {
	return &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{
			Config: mgr.GetConfig(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), Reader: mgr.GetAPIReader(),
			DefaultServiceAccount: defaultSA,
		},
		Artifacts: cache,
		Recorder:  recorder,
		Metrics:   runtime.DefaultMetrics,
		Options:   opts,
	}
}

// eventSink is a notification endpoint on loopback that keeps every event
// posted to it.
type eventSink struct {
	url    string
	mu     sync.Mutex
	events []runtime.Event
}

func startEventSink() (*eventSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &eventSink{url: "http://" + ln.Addr().String() + "/"}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev runtime.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// of returns the events posted so far about the Kustomization ns/name, in
// the order they were posted.
func (s *eventSink) of(ns, name string) []runtime.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []runtime.Event
	for _, ev := range s.events {
		if ev.InvolvedObject.Kind == "Kustomization" && ev.InvolvedObject.Namespace == ns && ev.InvolvedObject.Name == name {
			out = append(out, ev)
		}
	}
	return out
}
