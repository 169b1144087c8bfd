package kustomization

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// repo is a Git repository on a real HTTP Git server with a GitRepository
// pointing at it.
type repo struct {
	t   *testing.T
	ns  string
	w   *gs.WorkTree
	key client.ObjectKey
}

func newRepo(t *testing.T, ns string, files map[string]string) *repo {
	t.Helper()
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", files)
	src := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL("app.git"), Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return &repo{t: t, ns: ns, w: w, key: client.ObjectKeyFromObject(src)}
}

// push commits files (empty content removes the file), pushes, asks the
// source to reconcile and returns the new revision.
func (r *repo) push(files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		if content == "" {
			gs.NoErr(r.t, r.w.Remove(name))
			delete(files, name)
		}
	}
	head := gs.Must[string](r.t)(r.w.CommitFiles("change", files))
	gs.NoErr(r.t, r.w.Push("origin", gs.DefaultBranch))
	src := &sourcev1.GitRepository{}
	if err := env.Client.Get(context.Background(), r.key, src); err != nil {
		r.t.Fatal(err)
	}
	patch := client.MergeFrom(src.DeepCopy())
	src.Annotations = map[string]string{meta.ReconcileRequestAnnotation: time.Now().Format(time.RFC3339Nano)}
	if err := env.Client.Patch(context.Background(), src, patch); err != nil {
		r.t.Fatal(err)
	}
	return gs.DefaultBranch + "@sha1:" + head
}

func (r *repo) head() string {
	return gs.DefaultBranch + "@sha1:" + gs.Must[string](r.t)(r.w.Head())
}

func newKustomization(t *testing.T, ns, name, path string, mutate func(*kustomizev1.Kustomization)) client.ObjectKey {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
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

func waitKs(t *testing.T, key client.ObjectKey, what string, cond func(*kustomizev1.Kustomization) bool) *kustomizev1.Kustomization {
	t.Helper()
	obj := &kustomizev1.Kustomization{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), key, obj); err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s; conditions: %+v", key, what, obj.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func appliedAt(t *testing.T, key client.ObjectKey, revision string) *kustomizev1.Kustomization {
	t.Helper()
	return waitKs(t, key, "ready at "+revision, func(k *kustomizev1.Kustomization) bool {
		return runtime.IsReady(k) && k.Status.LastAppliedRevision == revision && k.Status.ObservedGeneration == k.Generation
	})
}

func failedWith(t *testing.T, key client.ObjectKey, reason string) *kustomizev1.Kustomization {
	t.Helper()
	return waitKs(t, key, "failed with "+reason, func(k *kustomizev1.Kustomization) bool {
		return runtime.IsFalse(k, meta.ReadyCondition) && runtime.Reason(k, meta.ReadyCondition) == reason
	})
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

// getObject reads an object of any kind; it returns nil when it does not
// exist.
func getObject(t *testing.T, c client.Client, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)
	if apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, ns, name, err)
	}
	return u
}

// cmValue returns data[key] of the ConfigMap ns/name, and whether the
// ConfigMap exists.
func cmValue(t *testing.T, ns, name, key string) (string, bool) {
	t.Helper()
	cm, err := getCM(t, ns, name)
	if apierrors.IsNotFound(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data[key], true
}

// updateKs changes a Kustomization's spec or metadata with a merge patch.
func updateKs(t *testing.T, key client.ObjectKey, mutate func(*kustomizev1.Kustomization)) {
	t.Helper()
	k := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), key, k); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(k.DeepCopy())
	mutate(k)
	if err := env.Client.Patch(context.Background(), k, patch); err != nil {
		t.Fatal(err)
	}
}

// create creates objects with the test's admin client.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// readyMessage returns the message of the Ready condition.
func readyMessage(k *kustomizev1.Kustomization) string {
	return runtime.Message(k, meta.ReadyCondition)
}

// wantContains fails the test when s lacks one of parts.
func wantContains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

// lockedDown labels a Kustomization for the locked-down reconciler.
func lockedDown(k *kustomizev1.Kustomization) {
	if k.Labels == nil {
		k.Labels = map[string]string{}
	}
	k.Labels[lockdownLabel] = "true"
}

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
