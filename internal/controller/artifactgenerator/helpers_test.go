package artifactgenerator_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// repo is a Git repository on a real HTTP Git server with a GitRepository
// named after it pointing at it.
type repo struct {
	t   *testing.T
	w   *gs.WorkTree
	key client.ObjectKey
}

func newRepo(t *testing.T, ns, name string, files map[string]string) *repo {
	t.Helper()
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, name+".git", files)
	src := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL(name + ".git"), Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return &repo{t: t, w: w, key: client.ObjectKeyFromObject(src)}
}

// push commits files, pushes, asks the GitRepository to reconcile and
// waits until it stored the new commit; it returns the new revision.
func (r *repo) push(files map[string]string) string {
	r.t.Helper()
	head := gs.Must[string](r.t)(r.w.CommitFiles("change", files))
	gs.NoErr(r.t, r.w.Push("origin", gs.DefaultBranch))
	env.RequestReconcile(r.t, &sourcev1.GitRepository{}, r.key)
	rev := gs.DefaultBranch + "@sha1:" + head
	eventually(r.t, "GitRepository "+r.key.String()+" at "+rev, func() bool {
		src := &sourcev1.GitRepository{}
		return env.Client.Get(context.Background(), r.key, src) == nil && src.Status.Artifact != nil && src.Status.Artifact.Revision == rev
	})
	return rev
}

func (r *repo) head() string {
	return gs.DefaultBranch + "@sha1:" + gs.Must[string](r.t)(r.w.Head())
}

// eventually polls cond every 100ms for up to 90 seconds and fails the
// test with what when it never holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createGenerator(t *testing.T, g *swv1.ArtifactGenerator) client.ObjectKey {
	t.Helper()
	if err := env.Client.Create(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(g)
}

// waitGenerator waits until the generator at key satisfies cond, having
// reconciled its latest spec, and returns it.
func waitGenerator(t *testing.T, key client.ObjectKey, what string, cond func(*swv1.ArtifactGenerator) bool) *swv1.ArtifactGenerator {
	t.Helper()
	g := &swv1.ArtifactGenerator{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), key, g); err == nil && g.Status.ObservedGeneration == g.Generation && cond(g) {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("ArtifactGenerator %s: not %s; conditions: %+v", key, what, g.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func generatorReady(t *testing.T, key client.ObjectKey) *swv1.ArtifactGenerator {
	t.Helper()
	return waitGenerator(t, key, "ready", func(g *swv1.ArtifactGenerator) bool { return runtime.IsReady(g) })
}

// externalArtifact returns the ExternalArtifact ns/name once it has an
// artifact that cond accepts (nil accepts any).
func externalArtifact(t *testing.T, ns, name string, cond func(*meta.Artifact) bool) *sourcev1.ExternalArtifact {
	t.Helper()
	ea := &sourcev1.ExternalArtifact{}
	eventually(t, "ExternalArtifact "+ns+"/"+name, func() bool {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ea)
		return err == nil && ea.Status.Artifact != nil && (cond == nil || cond(ea.Status.Artifact))
	})
	return ea
}

// unpack downloads an artifact as a consumer does and returns the
// directory it unpacked to.
func unpack(t *testing.T, art *meta.Artifact) string {
	t.Helper()
	data := testenv.FetchArtifact(t, art)
	dir := t.TempDir()
	if _, err := artifact.Extract(bytes.NewReader(data), dir, artifact.Limits{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// files lists the regular files below dir, relative and with slashes,
// with their content.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newKustomization(t *testing.T, ns, name, source, path string, mutate func(*kustomizev1.Kustomization)) client.ObjectKey {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.ExternalArtifactKind, Name: source},
			Path:          path,
			Interval:      metav1.Duration{Duration: time.Hour},
			RetryInterval: &metav1.Duration{Duration: time.Second},
			Prune:         true,
		},
	}
	if mutate != nil {
		mutate(k)
	}
	if err := env.Client.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(k)
}

func kustomizationAt(t *testing.T, key client.ObjectKey, revision string) *kustomizev1.Kustomization {
	t.Helper()
	k := &kustomizev1.Kustomization{}
	eventually(t, "Kustomization "+key.String()+" applied at "+revision, func() bool {
		return env.Client.Get(context.Background(), key, k) == nil && runtime.IsReady(k) &&
			k.Status.LastAppliedRevision == revision && k.Status.ObservedGeneration == k.Generation
	})
	return k
}
