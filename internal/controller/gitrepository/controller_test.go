package gitrepository

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

var appFiles = map[string]string{
	"deploy/app.yaml":          "kind: ConfigMap\n",
	"deploy/logo.png":          "not really a png",
	".github/workflows/ci.yml": "on: push\n",
	"README.md":                "# app\n",
}

// A branch over basic auth produces an artifact with the documented
// revision, served over HTTP with the digest of status, holding what the
// ignore rules leave; a new commit becomes a new artifact at once after a
// reconcile request, and an unchanged head fetches nothing.
func TestBranchArtifactAndNewCommit(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{Username: "git", Password: "s3cret"})
	w := gs.MustSeed(t, srv.Root, "app.git", appFiles)
	head := gs.Must[string](t)(w.Head())
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("s3cret")})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), func(o *sourcev1.GitRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
		o.Spec.Reference = &sourcev1.GitRepositoryRef{Branch: gs.DefaultBranch}
	})

	obj := readyAt(t, key, gs.DefaultBranch+"@sha1:"+head)
	if diff := cmp.Diff([]string{"README.md", "deploy/app.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if !runtime.IsTrue(obj, meta.ArtifactInStorageCondition) {
		t.Errorf("ArtifactInStorage: %+v", obj.Status.Conditions)
	}
	first := *obj.Status.Artifact

	// Nothing moved: a reconcile resolves the head and fetches no objects.
	fetches := countFetches(srv)
	requestReconcile(t, key)
	waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return o.Status.LastHandledReconcileAt != "" && runtime.IsReady(o) && o.Status.LastHandledReconcileAt == o.Annotations[meta.ReconcileRequestAnnotation]
	})
	if got := countFetches(srv); got != fetches {
		t.Errorf("an unchanged head fetched objects: %d upload-pack requests, want %d", got, fetches)
	}

	next := gs.Must[string](t)(w.CommitFiles("second", map[string]string{"deploy/extra.yaml": "kind: Secret\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	requestReconcile(t, key)
	obj = readyAt(t, key, gs.DefaultBranch+"@sha1:"+next)
	if obj.Status.Artifact.Digest == first.Digest || obj.Status.Artifact.Path == first.Path {
		t.Errorf("new commit kept the old artifact: %+v", obj.Status.Artifact)
	}
	if !slices.Contains(download(t, obj.Status.Artifact), "deploy/extra.yaml") {
		t.Error("new artifact lacks the new file")
	}
}

// countFetches counts the requests that download objects.
func countFetches(srv *gs.HTTPServer) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.Contains(r, "git-upload-pack") && strings.HasPrefix(r, "POST") {
			n++
		}
	}
	return n
}

// Every kind of ref resolves to the right commit and revision string.
func TestRefKinds(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "refs.git", map[string]string{"a.yaml": "a: 1\n"})
	first := gs.Must[string](t)(w.Head())
	gs.NoErr(t, w.Tag("v1.0.0"))
	second := gs.Must[string](t)(w.CommitFiles("second", map[string]string{"a.yaml": "a: 2\n"}))
	gs.NoErr(t, w.Tag("v1.2.0"))
	third := gs.Must[string](t)(w.CommitFiles("third", map[string]string{"a.yaml": "a: 3\n"}))
	gs.NoErr(t, w.Tag("v2.0.0"))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch, "--tags"))
	gs.NoErr(t, w.Push("origin", "HEAD:refs/pull/1/head"))

	tests := []struct {
		name string
		ref  *sourcev1.GitRepositoryRef
		want string
	}{
		{"default-branch", nil, gs.DefaultBranch + "@sha1:" + third},
		{"branch", &sourcev1.GitRepositoryRef{Branch: gs.DefaultBranch}, gs.DefaultBranch + "@sha1:" + third},
		{"tag", &sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@sha1:" + first},
		{"semver", &sourcev1.GitRepositoryRef{SemVer: "~1.0 || ^1.1"}, "v1.2.0@sha1:" + second},
		{"name", &sourcev1.GitRepositoryRef{Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:" + third},
		{"commit", &sourcev1.GitRepositoryRef{Commit: second}, "sha1:" + second},
		{"commit-wins", &sourcev1.GitRepositoryRef{Branch: gs.DefaultBranch, Tag: "v2.0.0", Commit: first}, gs.DefaultBranch + "@sha1:" + first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newRepo(t, ns, tt.name, srv.RepoURL("refs.git"), func(o *sourcev1.GitRepository) { o.Spec.Reference = tt.ref })
			readyAt(t, key, tt.want)
		})
	}
}

// Bad input fails with a message a user can act on, and the last good
// artifact stays served.
func TestFailuresKeepTheLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{Username: "git", Password: "right"})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "a: 1\n"})
	head := gs.Must[string](t)(w.Head())
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("right")})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), func(o *sourcev1.GitRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	})
	good := readyAt(t, key, gs.DefaultBranch+"@sha1:"+head).Status.Artifact

	// Wrong password.
	secret := map[string][]byte{"username": []byte("git"), "password": []byte("wrong")}
	updateSecret(t, ns, "auth", secret)
	requestReconcile(t, key)
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); strings.Contains(msg, "wrong") {
		t.Errorf("message shows the password: %s", msg)
	}
	if !runtime.IsTrue(obj, meta.FetchFailedCondition) {
		t.Errorf("FetchFailed not set: %+v", obj.Status.Conditions)
	}
	if diff := cmp.Diff(good, obj.Status.Artifact); diff != "" {
		t.Errorf("artifact changed on failure:\n%s", diff)
	}
	download(t, obj.Status.Artifact)

	// Missing branch.
	updateSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("right")})
	setRef(t, key, &sourcev1.GitRepositoryRef{Branch: "no-such-branch"})
	obj = failedWith(t, key, meta.GitOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "no-such-branch") {
		t.Errorf("message does not name the branch: %s", msg)
	}
	download(t, obj.Status.Artifact)

	// An invalid SemVer range stalls: retrying cannot help.
	setRef(t, key, &sourcev1.GitRepositoryRef{SemVer: "not a range"})
	obj = failedWith(t, key, meta.InvalidSpecReason)
	if !runtime.IsStalled(obj) || runtime.Has(obj, meta.ReconcilingCondition) {
		t.Errorf("invalid range should stall: %+v", obj.Status.Conditions)
	}

	// No tag matches the range.
	setRef(t, key, &sourcev1.GitRepositoryRef{SemVer: ">= 5.0.0"})
	obj = failedWith(t, key, meta.GitOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "5.0.0") {
		t.Errorf("message does not name the range: %s", msg)
	}

	// Unreachable host.
	setURL(t, key, "http://127.0.0.1:1/app.git")
	obj = waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return runtime.Reason(o, meta.ReadyCondition) == meta.GitOperationFailedReason &&
			strings.Contains(readyMessage(o), "127.0.0.1:1/")
	})
	t.Logf("Ready=False %s: %s", meta.GitOperationFailedReason, readyMessage(obj))
	if !strings.Contains(readyMessage(obj), "unreachable") {
		t.Errorf("message does not say the host is unreachable: %s", readyMessage(obj))
	}
	if diff := cmp.Diff(good, obj.Status.Artifact); diff != "" {
		t.Errorf("artifact changed on failure:\n%s", diff)
	}
}

// A symlink that leaves the repository does not stop the repository: the
// artifact is stored without it (and without anything it points at),
// links that stay inside are kept, and the Ready message, the artifact's
// metadata and a Warning event name the links left out, for as long as
// the stored revision lacks them.
func TestLinkOutOfTheRepositoryIsLeftOut(t *testing.T) {
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "mono.git", map[string]string{
		"apps/web/deploy.yaml": "kind: ConfigMap\n",
		"apps/db/deploy.yaml":  "kind: ConfigMap\n",
	})
	gs.NoErr(t, os.MkdirAll(w.Dir+"/tools", 0o755))
	gs.NoErr(t, os.Symlink("/etc", w.Dir+"/tools/etc"))
	gs.NoErr(t, os.Symlink("../../../outside", w.Dir+"/apps/db/up"))
	gs.NoErr(t, os.Symlink("deploy.yaml", w.Dir+"/apps/web/current.yaml"))
	rev := gs.DefaultBranch + "@sha1:" + must(w.Commit("links"))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))

	key := newRepo(t, ns, "mono", srv.RepoURL("mono.git"), nil)
	obj := readyAt(t, key, rev)
	wantMsg := "stored artifact for revision '" + rev + "'; left out 2 symbolic links pointing outside the repository: " +
		"apps/db/up -> ../../../outside, tools/etc -> /etc"
	if msg := readyMessage(obj); msg != wantMsg {
		t.Errorf("Ready message\n%s\nwant\n%s", msg, wantMsg)
	}
	want := []string{"apps/db/deploy.yaml", "apps/web/current.yaml", "apps/web/deploy.yaml"}
	if diff := cmp.Diff(want, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	wantLinks := []artifact.OutsideLink{{Path: "apps/db/up", Target: "../../../outside"}, {Path: "tools/etc", Target: "/etc"}}
	if diff := cmp.Diff(wantLinks, artifact.OutsideLinks(obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact metadata (-want +got):\n%s", diff)
	}
	var warned bool
	for _, e := range waitEvents(t, key, 2) {
		if e.Reason == SymlinkOutsideRepositoryReason && e.Type == corev1.EventTypeWarning &&
			strings.Contains(e.Message, "tools/etc -> /etc") && strings.Contains(e.Message, "apps/db/up") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no %s Warning naming the links: %v", SymlinkOutsideRepositoryReason, describeEvents(events(t, key)))
	}

	// A reconcile that finds the same revision keeps saying so.
	requestReconcile(t, key)
	if msg := readyMessage(handled(t, key)); msg != wantMsg {
		t.Errorf("after an unchanged reconcile the Ready message is %q", msg)
	}

	// Once the links are gone, so is the note.
	gs.NoErr(t, w.Remove("tools/etc"))
	gs.NoErr(t, w.Remove("apps/db/up"))
	next := gs.DefaultBranch + "@sha1:" + must(w.Commit("no links out"))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	requestReconcile(t, key)
	obj = readyAt(t, key, next)
	if msg := readyMessage(obj); msg != "stored artifact for revision '"+next+"'" {
		t.Errorf("Ready message after removing the links: %q", msg)
	}
	if obj.Status.Artifact.Metadata != nil {
		t.Errorf("artifact metadata after removing the links: %v", obj.Status.Artifact.Metadata)
	}
}

// A repository over the size cap fails the packing with the file named.
func TestTooLargeRepository(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	gs.MustSeed(t, srv.Root, "big.git", map[string]string{"big.bin": strings.Repeat("x", 9<<20)})
	key := newRepo(t, ns, "big", srv.RepoURL("big.git"), nil)
	obj := failedWith(t, key, sourcev1.ArchiveOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "big.bin") {
		t.Errorf("message does not name the file: %s", msg)
	}
}

// Deleting the object removes its artifacts from storage.
func TestDeleteRemovesArtifacts(t *testing.T) {
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"a.yaml": "a: 1\n"})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), nil)
	obj := readyAt(t, key, gs.DefaultBranch+"@sha1:"+gs.Must[string](t)(w.Head()))
	art := *obj.Status.Artifact
	if !storage.Exists(art) {
		t.Fatal("artifact not in storage")
	}
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	waitGone(t, key)
	if storage.Exists(art) {
		t.Error("artifact still in storage after delete")
	}
}

func waitGone(t *testing.T, key client.ObjectKey) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := env.Client.Get(context.Background(), key, &sourcev1.GitRepository{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists (%v)", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func updateSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	s.Data = data
	if err := env.Client.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, key client.ObjectKey, change func(*sourcev1.GitRepository)) {
	t.Helper()
	obj := &sourcev1.GitRepository{}
	if err := env.Client.Get(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if err := env.Client.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func setRef(t *testing.T, key client.ObjectKey, ref *sourcev1.GitRepositoryRef) {
	t.Helper()
	update(t, key, func(o *sourcev1.GitRepository) { o.Spec.Reference = ref })
}

func setURL(t *testing.T, key client.ObjectKey, url string) {
	t.Helper()
	update(t, key, func(o *sourcev1.GitRepository) { o.Spec.URL = url })
}
