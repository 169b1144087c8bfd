package helmrepository

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// waitFor polls the object until cond holds, failing after 90s with its
// status.
func waitFor(t *testing.T, key client.ObjectKey, cond func(*sourcev1.HelmRepository) bool) *sourcev1.HelmRepository {
	t.Helper()
	obj := &sourcev1.HelmRepository{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), key, obj); err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met; status: %+v", key, obj.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready waits until the object is Ready for its current generation.
func ready(t *testing.T, key client.ObjectKey) *sourcev1.HelmRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.HelmRepository) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation
	})
}

// failedWith waits until Ready is False with reason.
func failedWith(t *testing.T, key client.ObjectKey, reason string) *sourcev1.HelmRepository {
	t.Helper()
	obj := waitFor(t, key, func(o *sourcev1.HelmRepository) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason
	})
	// The messages users see, for docs/helmrepository.md: go test -v.
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, readyMessage(obj))
	return obj
}

func readyMessage(o *sourcev1.HelmRepository) string { return runtime.Message(o, meta.ReadyCondition) }

func newRepo(t *testing.T, ns, name, url string, mutate func(*sourcev1.HelmRepository)) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour}},
	}
	if mutate != nil {
		mutate(obj)
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

func newSecret(t *testing.T, ns, name string, data map[string][]byte) {
	env.CreateSecret(t, ns, name, data)
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

// requestReconcile sets the requestedAt annotation, as `gotk reconcile`
// does, and returns its value.
func requestReconcile(t *testing.T, key client.ObjectKey) string {
	return env.RequestReconcile(t, &sourcev1.HelmRepository{}, key)
}

// handled waits until the reconcile request token was processed.
func handled(t *testing.T, key client.ObjectKey, token string) *sourcev1.HelmRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.HelmRepository) bool {
		return o.Status.LastHandledReconcileAt == token && !runtime.IsTrue(o, meta.ReconcilingCondition)
	})
}

// download fetches the artifact over HTTP, checks that its sha256 is the
// digest of status, and loads it as a Helm index.
func download(t *testing.T, art *meta.Artifact) *helm.Index {
	t.Helper()
	data := testenv.FetchArtifact(t, art)
	file := filepath.Join(t.TempDir(), "index.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := helm.LoadIndex(file, art.URL)
	if err != nil {
		t.Fatalf("artifact is not an index: %v", err)
	}
	return idx
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
		if e.InvolvedObject.Kind == sourcev1.HelmRepositoryKind && e.InvolvedObject.Name == key.Name {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstTimestamp.Before(&out[j].FirstTimestamp) })
	return out
}

// newRevisionEvents counts the NewRevision events of the object,
// repetitions included.
func newRevisionEvents(t *testing.T, key client.ObjectKey) int {
	t.Helper()
	n := 0
	for _, e := range events(t, key) {
		if e.Reason == meta.NewRevisionReason {
			n += int(max(e.Count, 1))
		}
	}
	return n
}

func describeEvents(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s/%s x%d: %s", e.Type, e.Reason, e.Count, e.Message))
	}
	return out
}

// storedFiles lists the artifact files of the object in storage.
func storedFiles(t *testing.T, key client.ObjectKey) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(storage.BasePath(), "helmrepository", key.Namespace, key.Name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
