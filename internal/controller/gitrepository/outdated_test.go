package gitrepository

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// As in Flux, ArtifactOutdated=True with reason NewRevision shows while a
// new revision is being packed (the stored artifact still the old one),
// stays while storing it fails, and goes once the new artifact is stored.
func TestArtifactOutdatedWhileNewRevisionIsBuilt(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"deploy/app.yaml": "v: 1\n"})
	must := gs.Must[string](t)
	rev := func(h string) string { return gs.DefaultBranch + "@sha1:" + h }
	first := rev(must(w.Head()))
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), nil)
	obj := readyAt(t, key, first)
	if c := runtime.Get(obj, meta.ArtifactOutdatedCondition); c != nil {
		t.Fatalf("first artifact stored, yet %+v", c)
	}

	second := rev(must(w.CommitFiles("second", map[string]string{"deploy/app.yaml": "v: 2\n"})))
	gs.NoErr(t, w.Push("origin"))
	var sawOutdated bool
	watchStatus(t, key, func() { requestReconcile(t, key) }, func(o *sourcev1.GitRepository) bool {
		if c := runtime.Get(o, meta.ArtifactOutdatedCondition); c != nil && o.Status.Artifact.Revision == first {
			if c.Status != "True" || c.Reason != meta.NewRevisionReason || c.Message != "new upstream revision '"+second+"'" {
				t.Errorf("ArtifactOutdated while building: %+v", c)
			}
			sawOutdated = true
		}
		if o.Status.Artifact != nil && o.Status.Artifact.Revision == second {
			if c := runtime.Get(o, meta.ArtifactOutdatedCondition); c != nil {
				t.Errorf("new artifact stored, yet %+v", c)
			}
			return true
		}
		return false
	})
	if !sawOutdated {
		t.Errorf("no status showed ArtifactOutdated before the artifact of %s was stored", second)
	}

	// A revision that cannot be stored (larger than the 8 MiB limit of
	// the test reconciler) leaves the condition up, naming it.
	third := rev(must(w.CommitFiles("too large", map[string]string{"big.bin": strings.Repeat("x", 9<<20)})))
	gs.NoErr(t, w.Push("origin"))
	requestReconcile(t, key)
	obj = failedWith(t, key, sourcev1.ArchiveOperationFailedReason)
	c := runtime.Get(obj, meta.ArtifactOutdatedCondition)
	if c == nil || c.Status != "True" || c.Reason != meta.NewRevisionReason || c.Message != "new upstream revision '"+third+"'" {
		t.Errorf("after failing to store %s: ArtifactOutdated %+v", third, c)
	}
	if obj.Status.Artifact.Revision != second {
		t.Errorf("artifact %s, want the last good %s", obj.Status.Artifact.Revision, second)
	}

	gs.NoErr(t, w.Remove("big.bin"))
	fourth := rev(must(w.Commit("smaller again")))
	gs.NoErr(t, w.Push("origin"))
	requestReconcile(t, key)
	obj = readyAt(t, key, fourth)
	if c := runtime.Get(obj, meta.ArtifactOutdatedCondition); c != nil {
		t.Errorf("artifact of %s stored, yet %+v", fourth, c)
	}
}

// When only an included repository moves on, the including one shows
// ArtifactOutdated=True with reason IncludeChange until it has packed
// the new include.
func TestArtifactOutdatedWhileIncludeChangeIsBuilt(t *testing.T) {
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	lib := gs.MustSeed(t, srv.Root, "lib.git", map[string]string{"lib.yaml": "lib: 1\n"})
	app := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "app: 1\n"})
	libKey := newRepo(t, ns, "lib", srv.RepoURL("lib.git"), nil)
	readyAt(t, libKey, gs.DefaultBranch+"@sha1:"+must(lib.Head()))
	appKey := newRepo(t, ns, "app", srv.RepoURL("app.git"), including(include("lib", "", "lib")))
	before := *readyAt(t, appKey, gs.DefaultBranch+"@sha1:"+must(app.Head())).Status.Artifact

	libNext := gs.DefaultBranch + "@sha1:" + must(lib.CommitFiles("more", map[string]string{"lib.yaml": "lib: 2\n"}))
	gs.NoErr(t, lib.Push("origin"))
	var sawOutdated bool
	watchStatus(t, appKey, func() { requestReconcile(t, libKey) }, func(o *sourcev1.GitRepository) bool {
		if c := runtime.Get(o, meta.ArtifactOutdatedCondition); c != nil && o.Status.Artifact.Digest == before.Digest {
			if c.Status != "True" || c.Reason != IncludeChangeReason {
				t.Errorf("ArtifactOutdated while building: %+v", c)
			}
			sawOutdated = true
		}
		if len(o.Status.IncludedArtifacts) == 1 && o.Status.IncludedArtifacts[0].Revision == libNext {
			if c := runtime.Get(o, meta.ArtifactOutdatedCondition); c != nil {
				t.Errorf("new artifact stored, yet %+v", c)
			}
			return true
		}
		return false
	})
	if !sawOutdated {
		t.Error("no status showed ArtifactOutdated before the new include was packed")
	}
}

// watchStatus watches the object, runs start, and hands every version of
// it to seen until seen returns true; it fails when the watch ends first.
func watchStatus(t *testing.T, key client.ObjectKey, start func(), seen func(*sourcev1.GitRepository) bool) {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	wi, err := wc.Watch(ctx, &sourcev1.GitRepositoryList{}, client.InNamespace(key.Namespace),
		client.MatchingFields{"metadata.name": key.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	start()
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			t.Fatalf("watch error: %+v", ev.Object)
		}
		if o, ok := ev.Object.(*sourcev1.GitRepository); ok && seen(o) {
			return
		}
	}
	t.Fatalf("%s: the watch ended before the awaited status", key)
}
