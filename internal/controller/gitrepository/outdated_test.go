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

	// Watch every status written while the next revision is built.
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	wi, err := wc.Watch(ctx, &sourcev1.GitRepositoryList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": key.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()

	second := rev(must(w.CommitFiles("second", map[string]string{"deploy/app.yaml": "v: 2\n"})))
	gs.NoErr(t, w.Push("origin"))
	requestReconcile(t, key)
	var sawOutdated bool
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			t.Fatalf("watch error: %+v", ev.Object)
		}
		o, ok := ev.Object.(*sourcev1.GitRepository)
		if !ok {
			continue
		}
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
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("watch ended before the artifact of %s was stored", second)
	}
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
