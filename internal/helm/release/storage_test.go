package release

import (
	"context"
	"log/slog"
	goruntime "runtime"
	"testing"

	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

func installed(t *testing.T, ns string) *Runner {
	t.Helper()
	g, err := NewGetter(env.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(g, ns, "app", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
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
