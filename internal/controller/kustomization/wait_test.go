package kustomization

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// serialLabel marks the Kustomizations of the tests that run their own
// Kustomization reconciler (startSerial): the shared ones leave them alone,
// and each test's reconciler takes those with its own value.
const serialLabel = "gotk.test/serial"

// requests counts the requests a reconciler sends, by verb and path.
type requests struct {
	mu   sync.Mutex
	seen []string // "VERB path?query"
}

func (c *requests) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		line := req.Method + " " + req.URL.Path
		if req.URL.RawQuery != "" {
			line += "?" + req.URL.RawQuery
		}
		if req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/status") && req.Body != nil {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			if ready := readyIn(body); ready != "" {
				line += " Ready=" + ready
			}
		}
		c.mu.Lock()
		c.seen = append(c.seen, line)
		c.mu.Unlock()
		return next.RoundTrip(req)
	})
}

// readyIn returns the status of the Ready condition a status patch writes,
// or "".
func readyIn(body []byte) string {
	var patch struct {
		Status struct {
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(body, &patch) != nil {
		return ""
	}
	for _, c := range patch.Status.Conditions {
		if c.Type == meta.ReadyCondition {
			return string(c.Status)
		}
	}
	return ""
}

func (c *requests) reset() {
	c.mu.Lock()
	c.seen = nil
	c.mu.Unlock()
}

// matching returns the requests for which keep is true.
func (c *requests) matching(keep func(verb, path string) bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.seen {
		verb, path, _ := strings.Cut(l, " ")
		if keep(verb, path) {
			out = append(out, l)
		}
	}
	return out
}

// writesToApplied returns the requests that write (or dry-run a write of)
// anything but a Kustomization or an event.
func (c *requests) writesToApplied() []string {
	return c.matching(writeToApplied)
}

func writeToApplied(verb, path string) bool {
	return verb != http.MethodGet && !strings.Contains(path, "/kustomizations/") && !strings.Contains(path, "/events")
}

// serial is a Kustomization reconciler of one test, with one worker
// (--concurrent=1), in its own manager, whose requests are counted.
type serial struct {
	value    string
	requests *requests
	cancel   context.CancelFunc
	done     chan struct{}
}

// startSerial starts a manager with a Kustomization reconciler that takes
// the Kustomizations labelled serialLabel=value, with one worker. Stop it
// with stop; the test stops it at its end.
func startSerial(t *testing.T, value string) *serial {
	t.Helper()
	s := &serial{value: value, requests: &requests{}, done: make(chan struct{})}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(s.requests.RoundTrip)
	cacheOpts, err := runtime.DefaultOptions().CacheOptions("")
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:         env.Scheme,
		Cache:          cacheOpts,
		Client:         runtime.ClientOptions(),
		MapperProvider: runtime.MapperProvider,
		Metrics:        metricsserver.Options{BindAddress: "0"},
		Controller:     config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := artifact.NewCache(t.TempDir(), &artifact.Fetcher{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := runtime.DefaultOptions()
	opts.RequeueDependency = time.Second
	opts.Concurrent = 1
	opts.WatchLabelSelector = serialLabel + "=" + value
	if err := newReconciler(mgr, cache, nil, opts, "").SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// stop stops the manager and waits until it has.
func (s *serial) stop() {
	s.cancel()
	<-s.done
}

// label puts a Kustomization under s.
func (s *serial) label(k *kustomizev1.Kustomization) {
	if k.Labels == nil {
		k.Labels = map[string]string{}
	}
	k.Labels[serialLabel] = s.value
}

// waitingFor waits until the Kustomization is waiting for health with
// revision applied: Ready=Unknown, Reconciling=True, and returns it.
func waitingFor(t *testing.T, key client.ObjectKey, revision string) *kustomizev1.Kustomization {
	t.Helper()
	return waitKs(t, key, "waiting for health", func(k *kustomizev1.Kustomization) bool {
		ready := runtime.Get(k, meta.ReadyCondition)
		return k.Status.LastAppliedRevision == revision && ready != nil && ready.Status == metav1.ConditionUnknown &&
			runtime.IsTrue(k, meta.ReconcilingCondition) && strings.HasPrefix(ready.Message, "waiting for ")
	})
}

// With one worker, a Kustomization whose Deployment never becomes
// Available does not keep a second one from applying and becoming Ready;
// meanwhile the first says what it waits for.
func TestWaitHoldsNoWorker(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := startSerial(t, ns)
	r := newRepo(t, ns, map[string]string{
		"stuck/web.yaml": deploymentManifest(ns, "stuck", "nginx:1.27"),
		"fine/web.yaml":  deploymentManifest(ns, "fine", "nginx:1.27"),
	})
	stuck := newKustomization(t, ns, "stuck", "./stuck", func(k *kustomizev1.Kustomization) {
		s.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	ks := waitingFor(t, stuck, r.head())
	wantContains(t, "Ready message", readyMessage(ks), "waiting for 1 object: Deployment/"+ns+"/stuck")
	wantContains(t, "Reconciling message", runtime.Message(ks, meta.ReconcilingCondition), "Deployment/"+ns+"/stuck")

	fine := newKustomization(t, ns, "fine", "./fine", func(k *kustomizev1.Kustomization) {
		s.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	setDeploymentStatus(t, ns, "fine", 1, true)
	ks = appliedAt(t, fine, r.head())
	if !runtime.IsTrue(ks, meta.HealthyCondition) {
		t.Errorf("Healthy: %+v", ks.Status.Conditions)
	}
	ks = waitingFor(t, stuck, r.head())
	wantContains(t, "Ready message", readyMessage(ks), "Deployment/"+ns+"/stuck")
}

// When spec.timeout runs out, the Kustomization fails with
// HealthCheckFailed naming the object that was not ready.
func TestWaitTimeoutNamesObject(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := startSerial(t, ns)
	newRepo(t, ns, map[string]string{"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.27")})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		s.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Second}
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Hour}
	})
	ks := failedWith(t, key, meta.HealthCheckFailedReason)
	wantContains(t, "Ready message", readyMessage(ks), "timeout waiting for", "Deployment/"+ns+"/web")
	if c := runtime.Get(ks, meta.HealthyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != meta.HealthCheckFailedReason {
		t.Errorf("Healthy: %+v", c)
	}
}

// With one worker, a new revision that arrives during a long wait is
// applied at once, and its wait replaces the old one.
func TestWaitNewRevisionAppliedAtOnce(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := startSerial(t, ns)
	r := newRepo(t, ns, map[string]string{"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.27")})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		s.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	waitingFor(t, key, r.head())
	rev := r.push(map[string]string{"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.28")})
	ks := waitingFor(t, key, rev)
	wantContains(t, "Ready message", readyMessage(ks), "Deployment/"+ns+"/web")
	setDeploymentStatus(t, ns, "web", 2, true)
	appliedAt(t, key, rev)
}

// A controller restarted during a wait resumes it from the status: the
// wait ends when the Deployment becomes Available, and the new controller
// applies nothing, not even a dry-run.
func TestWaitResumesAfterRestartWithoutApply(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	first := startSerial(t, ns)
	r := newRepo(t, ns, map[string]string{
		"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.27"),
		"deploy/cm.yaml":  configMap(ns, "settings", "x"),
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		first.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	waitingFor(t, key, r.head())
	first.stop()
	stopped := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), key, stopped); err != nil {
		t.Fatal(err)
	}

	second := startSerial(t, ns)
	setDeploymentStatus(t, ns, "web", 1, true)
	ks := appliedAt(t, key, r.head())
	if !runtime.IsTrue(ks, meta.HealthyCondition) {
		t.Errorf("Healthy: %+v", ks.Status.Conditions)
	}
	// Until it writes Ready=True, the restarted controller only watches.
	// A reconcile woken after that (the watch's notification racing the
	// end of the wait) may dry-run once to look for drift, since what it
	// last applied died with the first controller; it never writes.
	seen := second.requests.matching(func(string, string) bool { return true })
	var before, writes []string
	ready := false
	for _, l := range seen {
		verb, path, _ := strings.Cut(l, " ")
		ready = ready || strings.Contains(path, "/kustomizations/") && strings.HasSuffix(path, " Ready=True")
		if !writeToApplied(verb, path) {
			continue
		}
		if !ready {
			before = append(before, l)
		}
		if !strings.Contains(path, "dryRun=All") {
			writes = append(writes, l)
		}
	}
	if len(before) > 0 || len(writes) > 0 {
		t.Errorf("the restarted controller applied again:\n%s\nstatus when the first stopped: generation %d, observed %d, applied %s, conditions %+v",
			strings.Join(seen, "\n"), stopped.Generation, stopped.Status.ObservedGeneration, stopped.Status.LastAppliedRevision, stopped.Status.Conditions)
	}
}

// A requested reconcile with nothing new (same revision, spec, objects
// unchanged and healthy; the Deployment's status written since by its
// controller) makes no dry-run, no write to an applied object, no health
// read and no read of the applied objects: at most one status patch.
func TestNoopReconcileWritesNothing(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	s := startSerial(t, ns)
	r := newRepo(t, ns, map[string]string{
		"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.27"),
		"deploy/cm.yaml":  configMap(ns, "settings", "x"),
	})
	// With the artifact there first, no reconcile of the Kustomization
	// waits for it and comes back later, during the one measured.
	eventually(t, "the artifact of the source", func() bool {
		src := &sourcev1.GitRepository{}
		return env.Client.Get(context.Background(), r.key, src) == nil && src.Status.Artifact != nil
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		s.label(k)
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	setDeploymentStatus(t, ns, "web", 1, true)
	appliedAt(t, key, r.head())

	s.requests.reset()
	at := time.Now().Format(time.RFC3339Nano)
	updateKs(t, key, func(k *kustomizev1.Kustomization) {
		k.Annotations = map[string]string{meta.ReconcileRequestAnnotation: at}
	})
	ks := waitKs(t, key, "handled "+at, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == at
	})
	if !runtime.IsReady(ks) {
		t.Errorf("not Ready: %+v", ks.Status.Conditions)
	}
	if w := s.requests.writesToApplied(); len(w) > 0 {
		t.Errorf("writes or dry-runs to applied objects:\n%s", strings.Join(w, "\n"))
	}
	reads := s.requests.matching(func(verb, path string) bool {
		// A read of the Deployment itself, or the cluster-wide watch of
		// the health checks (the apply's own Lists are per namespace).
		return verb == http.MethodGet && (strings.Contains(path, "/deployments/") ||
			!strings.Contains(path, "/namespaces/") && strings.Contains(path, "labelSelector=kustomize"))
	})
	if len(reads) > 0 {
		t.Errorf("health reads:\n%s", strings.Join(reads, "\n"))
	}
	// The watches the controller keeps of the kinds it applied show the
	// objects unchanged: no List or read of them either.
	lists := s.requests.matching(func(verb, path string) bool {
		return verb == http.MethodGet && strings.Contains(path, "/namespaces/"+ns+"/") &&
			(strings.Contains(path, "/configmaps") || strings.Contains(path, "/deployments"))
	})
	if len(lists) > 0 {
		t.Errorf("reads of the applied objects:\n%s", strings.Join(lists, "\n"))
	}
	patches := s.requests.matching(func(verb, path string) bool {
		return verb != http.MethodGet && strings.Contains(path, "/kustomizations/")
	})
	if len(patches) > 1 {
		t.Errorf("%d writes to the Kustomization, want at most one:\n%s", len(patches), strings.Join(patches, "\n"))
	}
	t.Logf("requests of the no-op reconcile: %d", len(s.requests.matching(func(string, string) bool { return true })))
}
