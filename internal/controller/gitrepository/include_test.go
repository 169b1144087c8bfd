package gitrepository

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func including(incs ...sourcev1.GitRepositoryInclude) func(*sourcev1.GitRepository) {
	return func(o *sourcev1.GitRepository) { o.Spec.Include = incs }
}

func include(name, from, to string) sourcev1.GitRepositoryInclude {
	return sourcev1.GitRepositoryInclude{GitRepositoryRef: meta.LocalObjectReference{Name: name}, FromPath: from, ToPath: to}
}

// A repository that includes another carries the other's files at toPath,
// and is packed again when only the included repository moves.
func TestInclude(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	lib := gs.MustSeed(t, srv.Root, "lib.git", map[string]string{"README.md": "lib\n", "lib/a.yaml": "a: 1\n"})
	app := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "app: 1\n"})
	appRev := gs.DefaultBranch + "@sha1:" + must(app.Head())

	libKey := newRepo(t, ns, "lib", srv.RepoURL("lib.git"), nil)
	libObj := readyAt(t, libKey, gs.DefaultBranch+"@sha1:"+must(lib.Head()))
	appKey := newRepo(t, ns, "app", srv.RepoURL("app.git"), including(include("lib", "", "vendor/lib")))
	obj := readyAt(t, appKey, appRev)
	if diff := cmp.Diff([]string{"app.yaml", "vendor/lib/README.md", "vendor/lib/lib/a.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if len(obj.Status.IncludedArtifacts) != 1 || obj.Status.IncludedArtifacts[0].Digest != libObj.Status.Artifact.Digest {
		t.Errorf("includedArtifacts %+v, want lib's artifact %+v", obj.Status.IncludedArtifacts, libObj.Status.Artifact)
	}
	first := *obj.Status.Artifact

	// fromPath picks a directory of the included artifact.
	partKey := newRepo(t, ns, "part", srv.RepoURL("app.git"), including(include("lib", "lib", "deps")))
	if diff := cmp.Diff([]string{"app.yaml", "deps/a.yaml"}, download(t, readyAt(t, partKey, appRev).Status.Artifact)); diff != "" {
		t.Errorf("fromPath artifact files (-want +got):\n%s", diff)
	}

	// A fromPath the included artifact lacks is a spec error.
	badKey := newRepo(t, ns, "bad-path", srv.RepoURL("app.git"), including(include("lib", "nope", "deps")))
	bad := failedWith(t, badKey, sourcev1.InvalidPathReason)
	if !runtime.IsStalled(bad) || !strings.Contains(readyMessage(bad), `fromPath "nope" does not exist in lib`) {
		t.Errorf("a missing fromPath should stall naming it: %+v", bad.Status.Conditions)
	}

	// A new commit on lib alone makes a new artifact of app, same revision.
	libNext := must(lib.CommitFiles("more lib", map[string]string{"lib/b.yaml": "b: 1\n"}))
	gs.NoErr(t, lib.Push("origin", gs.DefaultBranch))
	requestReconcile(t, libKey)
	readyAt(t, libKey, gs.DefaultBranch+"@sha1:"+libNext)
	obj = waitFor(t, appKey, func(o *sourcev1.GitRepository) bool {
		return runtime.IsReady(o) && len(o.Status.IncludedArtifacts) == 1 &&
			o.Status.IncludedArtifacts[0].Revision == gs.DefaultBranch+"@sha1:"+libNext
	})
	if obj.Status.Artifact.Revision != appRev {
		t.Errorf("app's revision changed to %s without a commit on app", obj.Status.Artifact.Revision)
	}
	if obj.Status.Artifact.Digest == first.Digest || obj.Status.Artifact.Path == first.Path {
		t.Errorf("app kept its artifact after lib moved: %+v", obj.Status.Artifact)
	}
	if !slices.Contains(download(t, obj.Status.Artifact), "vendor/lib/lib/b.yaml") {
		t.Error("app's new artifact lacks lib's new file")
	}
	waitFor(t, partKey, func(o *sourcev1.GitRepository) bool {
		return len(o.Status.IncludedArtifacts) == 1 && o.Status.IncludedArtifacts[0].Revision == gs.DefaultBranch+"@sha1:"+libNext
	})
}

// An include of a GitRepository that does not exist holds the artifact
// back with IncludeUnavailable, and recovers once it exists.
func TestIncludeUnavailable(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	gs.MustSeed(t, srv.Root, "lib.git", map[string]string{"lib.yaml": "lib: 1\n"})
	app := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "app: 1\n"})

	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), including(include("later", "", "")))
	obj := failedWith(t, key, "IncludeUnavailable")
	if !runtime.IsTrue(obj, meta.IncludeUnavailableCondition) {
		t.Errorf("IncludeUnavailable not True: %+v", obj.Status.Conditions)
	}
	if msg := readyMessage(obj); !strings.Contains(msg, "spec.include[0]") || !strings.Contains(msg, ns+"/later' not found") {
		t.Errorf("message does not name the missing include: %s", msg)
	}
	if obj.Status.Artifact != nil {
		t.Errorf("an artifact was stored without its include: %+v", obj.Status.Artifact)
	}

	newRepo(t, ns, "later", srv.RepoURL("lib.git"), nil)
	obj = readyAt(t, key, gs.DefaultBranch+"@sha1:"+must(app.Head()))
	if runtime.Has(obj, meta.IncludeUnavailableCondition) {
		t.Errorf("IncludeUnavailable left after recovery: %+v", obj.Status.Conditions)
	}
	// toPath defaults to the included repository's name.
	if diff := cmp.Diff([]string{"app.yaml", "later/lib.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
}

// Repositories that include each other would nest copies of themselves
// for ever: the cycle stalls them, and breaking it recovers both.
func TestIncludeCycle(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	a := gs.MustSeed(t, srv.Root, "a.git", map[string]string{"a.yaml": "a: 1\n"})
	b := gs.MustSeed(t, srv.Root, "b.git", map[string]string{"b.yaml": "b: 1\n"})

	self := newRepo(t, ns, "self", srv.RepoURL("a.git"), including(include("self", "", "again")))
	obj := failedWith(t, self, meta.InvalidSpecReason)
	if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), "cycle: self -> self") {
		t.Errorf("a self-include should stall naming the cycle: %+v", obj.Status.Conditions)
	}

	aKey := newRepo(t, ns, "a", srv.RepoURL("a.git"), including(include("b", "", "")))
	bKey := newRepo(t, ns, "b", srv.RepoURL("b.git"), including(include("a", "", "")))
	for _, k := range []struct {
		key   client.ObjectKey
		cycle string
	}{{aKey, "a -> b -> a"}, {bKey, "b -> a -> b"}} {
		obj := failedWith(t, k.key, meta.InvalidSpecReason)
		if !runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), k.cycle) {
			t.Errorf("%s: the cycle should stall, naming %q: %+v", k.key.Name, k.cycle, obj.Status.Conditions)
		}
	}

	update(t, bKey, func(o *sourcev1.GitRepository) { o.Spec.Include = nil })
	readyAt(t, bKey, gs.DefaultBranch+"@sha1:"+must(b.Head()))
	obj = readyAt(t, aKey, gs.DefaultBranch+"@sha1:"+must(a.Head()))
	if diff := cmp.Diff([]string{"a.yaml", "b/b.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
}

// An include never replaces what is at its toPath: a directory or file of
// the repository, an earlier include, or the whole checkout ("."); nor is
// it written through a symbolic link. Each is refused naming the path,
// while a new directory inside an existing one is fine.
func TestIncludeNeverReplacesTheRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	gs.MustSeed(t, srv.Root, "lib.git", map[string]string{"lib.yaml": "lib: 1\n"})
	app := gs.MustSeed(t, srv.Root, "app.git", map[string]string{
		"app.yaml": "app: 1\n", "deploy/app.yaml": "kind: ConfigMap\n", "deploy/keep.yaml": "kind: Secret\n",
	})
	gs.NoErr(t, os.Symlink("deploy", filepath.Join(app.Dir, "link")))
	appRev := gs.DefaultBranch + "@sha1:" + must(app.Commit("link to deploy"))
	gs.NoErr(t, app.Push("origin"))
	newRepo(t, ns, "lib", srv.RepoURL("lib.git"), nil)

	refused := []struct {
		name    string
		incs    []sourcev1.GitRepositoryInclude
		stalled bool
		msg     string
	}{
		{"dir", []sourcev1.GitRepositoryInclude{include("lib", "", "deploy")}, false,
			`spec.include[0].toPath "deploy": "deploy" already exists in the repository`},
		{"file", []sourcev1.GitRepositoryInclude{include("lib", "", "deploy/app.yaml")}, false,
			`spec.include[0].toPath "deploy/app.yaml": "deploy/app.yaml" already exists in the repository as a file`},
		{"root", []sourcev1.GitRepositoryInclude{include("lib", "", ".")}, true,
			`spec.include[0].toPath "." is the repository root`},
		{"twice", []sourcev1.GitRepositoryInclude{include("lib", "", "vendor"), include("lib", "", "vendor/")}, false,
			`spec.include[1].toPath "vendor/": "vendor" already exists in spec.include[0]`},
		{"link", []sourcev1.GitRepositoryInclude{include("lib", "", "link/lib")}, false,
			`spec.include[0].toPath "link/lib": "link" in the repository is a symbolic link`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := newRepo(t, ns, tt.name, srv.RepoURL("app.git"), including(tt.incs...))
			obj := failedWith(t, key, sourcev1.InvalidPathReason)
			if msg := readyMessage(obj); !strings.Contains(msg, tt.msg) {
				t.Errorf("Ready message %q does not contain %q", msg, tt.msg)
			}
			if runtime.IsStalled(obj) != tt.stalled {
				t.Errorf("stalled %v, want %v: a clash with the repository's files is fixed by a commit, so it is retried",
					runtime.IsStalled(obj), tt.stalled)
			}
			if obj.Status.Artifact != nil {
				t.Errorf("an artifact was stored: %+v", obj.Status.Artifact)
			}
		})
	}

	t.Run("inside an existing directory", func(t *testing.T) {
		t.Parallel()
		key := newRepo(t, ns, "inside", srv.RepoURL("app.git"), including(include("lib", "", "deploy/lib")))
		want := []string{"app.yaml", "deploy/app.yaml", "deploy/keep.yaml", "deploy/lib/lib.yaml", "link"}
		if diff := cmp.Diff(want, download(t, readyAt(t, key, appRev).Status.Artifact)); diff != "" {
			t.Errorf("artifact files (-want +got):\n%s", diff)
		}
	})
}
