package gitrepository

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func ptr[T any](v T) *T { return &v }

// .sourceignore files (scoped to their directory) and spec.ignore decide
// what the artifact holds; as in Flux, the default exclusions apply only
// when neither gives a pattern, so a repository with a .sourceignore ships
// its images and CI files. A changed spec.ignore repacks the same
// revision.
func TestIgnore(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{
		"README.md":                "# app\n",
		"deploy/app.yaml":          "kind: ConfigMap\n",
		"deploy/secret.yaml":       "kind: Secret\n",
		"logo.png":                 "png",
		".github/workflows/ci.yml": "on: push\n",
		"docs/notes.md":            "notes\n",
		"docs/guide.yaml":          "guide: 1\n",
		"docs/.sourceignore":       "*.md\n",
		".sourceignore":            "# secrets stay in the cluster\ndeploy/secret.yaml\n",
	})
	rev := gs.DefaultBranch + "@sha1:" + gs.Must[string](t)(w.Head())
	url := srv.RepoURL("app.git")

	tests := []struct {
		name   string
		ignore *string
		want   []string
	}{
		{"sourceignore-only", nil, []string{
			".github/workflows/ci.yml", ".sourceignore", "README.md", "deploy/app.yaml", "docs/.sourceignore", "docs/guide.yaml", "logo.png"}},
		{"spec-replaces-defaults", ptr("/README.md\n"), []string{
			".github/workflows/ci.yml", ".sourceignore", "deploy/app.yaml", "docs/.sourceignore", "docs/guide.yaml", "logo.png"}},
		{"spec-reincludes", ptr("!deploy/secret.yaml\n**/.sourceignore\n"), []string{
			".github/workflows/ci.yml", "README.md", "deploy/app.yaml", "deploy/secret.yaml", "docs/guide.yaml", "logo.png"}},
		{"empty-spec", ptr(""), []string{
			".github/workflows/ci.yml", ".sourceignore", "README.md", "deploy/app.yaml", "docs/.sourceignore", "docs/guide.yaml", "logo.png"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := newRepo(t, ns, tt.name, url, func(o *sourcev1.GitRepository) { o.Spec.Ignore = tt.ignore })
			if diff := cmp.Diff(tt.want, download(t, readyAt(t, key, rev).Status.Artifact)); diff != "" {
				t.Errorf("artifact files (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("changed", func(t *testing.T) {
		t.Parallel()
		key := newRepo(t, ns, "changed", url, nil)
		before := *readyAt(t, key, rev).Status.Artifact
		update(t, key, func(o *sourcev1.GitRepository) { o.Spec.Ignore = ptr("deploy/\n*.md\n") })
		obj := waitFor(t, key, func(o *sourcev1.GitRepository) bool {
			return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && o.Status.ObservedIgnore != nil
		})
		if obj.Status.Artifact.Revision != rev || obj.Status.Artifact.Digest == before.Digest {
			t.Errorf("changed ignore rules: artifact %+v, before %+v", obj.Status.Artifact, before)
		}
		want := []string{".github/workflows/ci.yml", ".sourceignore", "docs/.sourceignore", "docs/guide.yaml", "logo.png"}
		if diff := cmp.Diff(want, download(t, obj.Status.Artifact)); diff != "" {
			t.Errorf("artifact files (-want +got):\n%s", diff)
		}
	})
}

// sparseCheckout limits the artifact to the listed directories; a
// directory that is not in the commit fails with its name.
func TestSparseCheckout(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "mono.git", map[string]string{
		"README.md":            "# mono\n",
		"apps/web/deploy.yaml": "web: 1\n",
		"apps/api/deploy.yaml": "api: 1\n",
		"infra/ns.yaml":        "kind: Namespace\n",
		"tools/lint.yaml":      "lint: 1\n",
	})
	rev := gs.DefaultBranch + "@sha1:" + gs.Must[string](t)(w.Head())

	key := newRepo(t, ns, "apps", srv.RepoURL("mono.git"), func(o *sourcev1.GitRepository) {
		o.Spec.SparseCheckout = []string{"apps", "infra/"}
	})
	obj := readyAt(t, key, rev)
	want := []string{"apps/api/deploy.yaml", "apps/web/deploy.yaml", "infra/ns.yaml"}
	if diff := cmp.Diff(want, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}

	// Widening the checkout repacks the same revision.
	update(t, key, func(o *sourcev1.GitRepository) { o.Spec.SparseCheckout = append(o.Spec.SparseCheckout, "tools") })
	obj = waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && len(o.Status.ObservedSparseCheckout) == 3
	})
	if diff := cmp.Diff(append(want, "tools/lint.yaml"), download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}

	missing := newRepo(t, ns, "missing", srv.RepoURL("mono.git"), func(o *sourcev1.GitRepository) {
		o.Spec.SparseCheckout = []string{"nope"}
	})
	obj = failedWith(t, missing, meta.GitOperationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, `sparse checkout directory "nope"`) {
		t.Errorf("message does not name the directory: %s", msg)
	}
}

// A suspended object is not reconciled, not even on request; resuming
// picks up what happened meanwhile.
func TestSuspend(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"a.yaml": "a: 1\n"})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), nil)
	before := *readyAt(t, key, gs.DefaultBranch+"@sha1:"+must(w.Head())).Status.Artifact

	update(t, key, func(o *sourcev1.GitRepository) { o.Spec.Suspend = true })
	next := must(w.CommitFiles("while suspended", map[string]string{"b.yaml": "b: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	requestReconcile(t, key)
	holds(t, key, 3*time.Second, func(o *sourcev1.GitRepository) bool {
		return o.Status.Artifact.Revision == before.Revision &&
			o.Status.LastHandledReconcileAt != o.Annotations[meta.ReconcileRequestAnnotation]
	})

	update(t, key, func(o *sourcev1.GitRepository) { o.Spec.Suspend = false })
	obj := readyAt(t, key, gs.DefaultBranch+"@sha1:"+next)
	if obj.Status.LastHandledReconcileAt != obj.Annotations[meta.ReconcileRequestAnnotation] {
		t.Errorf("the request made while suspended was not handled on resume: %q", obj.Status.LastHandledReconcileAt)
	}
}

// A short interval picks up a new commit without any request.
func TestInterval(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"a.yaml": "a: 1\n"})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), func(o *sourcev1.GitRepository) {
		o.Spec.Interval = metav1.Duration{Duration: 2 * time.Second}
	})
	readyAt(t, key, gs.DefaultBranch+"@sha1:"+must(w.Head()))
	next := must(w.CommitFiles("picked up on the interval", map[string]string{"b.yaml": "b: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	obj := readyAt(t, key, gs.DefaultBranch+"@sha1:"+next)
	if obj.Status.LastHandledReconcileAt != "" {
		t.Errorf("a reconcile request was handled, none was made: %q", obj.Status.LastHandledReconcileAt)
	}
}

// A new revision records one NewRevision event on the object; a reconcile
// that finds nothing new records none.
func TestEvents(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"a.yaml": "a: 1\n"})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), nil)
	readyAt(t, key, gs.DefaultBranch+"@sha1:"+must(w.Head()))

	evs := waitEvents(t, key, 1)
	if evs[0].Reason != meta.NewRevisionReason || evs[0].Type != corev1.EventTypeNormal ||
		!strings.Contains(evs[0].Message, "initial commit") {
		t.Errorf("first event: %s %s %q", evs[0].Type, evs[0].Reason, evs[0].Message)
	}

	requestReconcile(t, key)
	handled(t, key)
	// Events are sent in the background: give a stray one time to show.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if got := events(t, key); len(got) != 1 || got[0].Count > 1 {
			t.Fatalf("a reconcile without change recorded events: %v", describeEvents(got))
		}
		time.Sleep(250 * time.Millisecond)
	}

	next := must(w.CommitFiles("second change", map[string]string{"b.yaml": "b: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	requestReconcile(t, key)
	readyAt(t, key, gs.DefaultBranch+"@sha1:"+next)
	evs = waitEvents(t, key, 2)
	last := evs[len(evs)-1]
	if last.Reason != meta.NewRevisionReason || !strings.Contains(last.Message, "second change") {
		t.Errorf("second event: %s %q", last.Reason, last.Message)
	}
	if got := last.Annotations["revision"]; got != gs.DefaultBranch+"@sha1:"+next {
		t.Errorf("event revision annotation %q, want %s", got, next)
	}
}

// events lists the events recorded on the object, oldest first.
func events(t *testing.T, key client.ObjectKey) []corev1.Event {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == sourcev1.GitRepositoryKind && e.InvolvedObject.Name == key.Name {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstTimestamp.Before(&out[j].FirstTimestamp) })
	return out
}

// waitEvents waits until the object has n events and returns them.
func waitEvents(t *testing.T, key client.ObjectKey, n int) []corev1.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := events(t, key)
		if len(evs) == n {
			return evs
		}
		if len(evs) > n || time.Now().After(deadline) {
			t.Fatalf("want %d events, got %v", n, describeEvents(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func describeEvents(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s/%s x%d: %s", e.Type, e.Reason, e.Count, e.Message))
	}
	return out
}

// A provider other than generic is not supported yet: the object stalls
// and says what to use instead.
func TestProviderNotSupported(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := newRepo(t, ns, "github", "https://127.0.0.1:1/org/app.git", func(o *sourcev1.GitRepository) {
		o.Spec.Provider = sourcev1.GitProviderGitHub
	})
	obj := failedWith(t, key, meta.InvalidSpecReason)
	if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), `spec.provider "github" is not supported`) {
		t.Errorf("provider github should stall with a message: %+v", obj.Status.Conditions)
	}
}
