package release

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	goruntime "runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/internal/testenv"
)

func installed(t *testing.T, ns string) *Runner {
	t.Helper()
	r := runnerFor(t, env.Config, ns)
	r.HooksOnly = true
	hr := &helmv2.HelmRelease{}
	hr.Namespace, hr.Name = ns, "app"
	if _, err := r.Install(context.Background(), hr, deploymentChart(""), map[string]any{"message": "one"}, false); err != nil {
		t.Fatal(err)
	}
	return r
}

// The releases the controller stores are the Secrets Helm stores, with
// the same labels: the helm CLI and Flux read them, and the controller
// reads theirs.
func TestReleasesStoredAsHelmStoresThem(t *testing.T) {
	ns := env.Namespace(t)
	r := installed(t, ns)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	helmStore := driver.NewSecrets(cs.CoreV1().Secrets(ns))
	v, err := helmStore.Get("sh.helm.release.v1.app.v1")
	if err != nil {
		t.Fatalf("Helm's driver reads the stored release: %v", err)
	}
	got := v.(*rel.Release)
	if got.Name != "app" || got.Version != 1 || got.Info.Status.String() != "deployed" || got.Config["message"] != "one" || got.Manifest == "" {
		t.Errorf("Helm reads name %q version %d status %s values %v manifest %d bytes", got.Name, got.Version, got.Info.Status, got.Config, len(got.Manifest))
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "sh.helm.release.v1.app.v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != "helm.sh/release.v1" {
		t.Errorf("Secret type %q", sec.Type)
	}
	for _, l := range []string{"name", "owner", "status", "version", "modifiedAt"} {
		if sec.Labels[l] == "" {
			t.Errorf("Secret lacks label %s: %v", l, sec.Labels)
		}
	}

	// A version Helm stored, read by the controller.
	next := *got
	next.Version = 2
	next.Config = map[string]any{"message": "from helm"}
	if err := helmStore.Create("sh.helm.release.v1.app.v2", &next); err != nil {
		t.Fatal(err)
	}
	// The next reconcile, with its own runner.
	r = runnerFor(t, env.Config, ns)
	last, err := r.Last()
	if err != nil {
		t.Fatal(err)
	}
	if last.Version != 2 || last.Config["message"] != "from helm" {
		t.Errorf("the controller reads version %d values %v, want 2 and the values Helm stored", last.Version, last.Config)
	}
	if h, err := r.History(); err != nil || len(h) != 2 {
		t.Errorf("history: %d versions, %v", len(h), err)
	}
}

// Storing a release does not allocate a new gzip compressor each time:
// with many releases those buffers (over a megabyte each) were a third of
// everything the controller allocated.
func TestStoringAReleaseReusesGzipBuffers(t *testing.T) {
	ns := env.Namespace(t)
	r := installed(t, ns)
	last, err := r.Last()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	if err := r.cfg.Releases.Update(last); err != nil {
		t.Fatal(err)
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	for range n {
		if err := r.cfg.Releases.Update(last); err != nil {
			t.Fatal(err)
		}
	}
	goruntime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("storing a release allocated %d KiB", per>>10)
	if per > 512<<10 {
		t.Errorf("storing a release allocated %d KiB, want at most 512 KiB", per>>10)
	}
}

// A runner lists the release's Secrets once: Helm's own reads of the
// release during an upgrade (its last version, its deployed one, the
// history that maxHistory trims) and the history read after it come from
// that List and the runner's own writes, and agree with a fresh List.
func TestRunnerListsTheReleaseOnce(t *testing.T) {
	ns := env.Namespace(t)
	installed(t, ns)
	var lists atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/secrets") {
				lists.Add(1)
			}
			return next.RoundTrip(req)
		})
	})
	r := runnerFor(t, cfg, ns)
	r.HooksOnly = true
	if h, err := r.History(); err != nil || len(h) != 1 {
		t.Fatalf("history %v, %v; want the installed version", h, err)
	}
	hr := &helmv2.HelmRelease{}
	hr.Namespace, hr.Name = ns, "app"
	one := 1
	hr.Spec.MaxHistory = &one
	for i, msg := range []string{"two", "three"} {
		out, err := r.Upgrade(context.Background(), hr, deploymentChart(""), map[string]any{"message": msg})
		if err != nil || out.Version != i+2 {
			t.Fatalf("upgrade %d: version %v, %v", i+1, out, err)
		}
	}
	mine, err := r.History()
	if err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("the runner listed the release's Secrets %d times, want 1", n)
	}

	fresh := runnerFor(t, env.Config, ns)
	theirs, err := fresh.History()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(mine), versions(theirs); got != want {
		t.Errorf("the runner's history %s, a fresh List %s", got, want)
	}
	if want := "v2 superseded, v3 deployed"; versions(theirs) != want {
		t.Errorf("history %s, want %s (maxHistory 1 keeps the deployed version and the one before)", versions(theirs), want)
	}
}

// runnerFor returns a new runner of release app in ns, through cfg.
func runnerFor(t *testing.T, cfg *rest.Config, ns string) *Runner {
	t.Helper()
	g, err := NewGetter(cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(g, ns, "app", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// versions lists history by version: "v1 status, v2 status".
func versions(history []*rel.Release) string {
	sort.Slice(history, func(i, j int) bool { return history[i].Version < history[j].Version })
	parts := make([]string, len(history))
	for i, h := range history {
		parts[i] = fmt.Sprintf("v%d %s", h.Version, h.Info.Status)
	}
	return strings.Join(parts, ", ")
}
