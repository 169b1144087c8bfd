package gitrepository

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

type zapcoreLevel = zapcore.Level

// waitFor polls the object until cond holds, failing after a minute with
// its conditions.
func waitFor(t *testing.T, key client.ObjectKey, cond func(*sourcev1.GitRepository) bool) *sourcev1.GitRepository {
	t.Helper()
	obj := &sourcev1.GitRepository{}
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

// readyAt waits until the object is Ready with an artifact of revision.
func readyAt(t *testing.T, key client.ObjectKey, revision string) *sourcev1.GitRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return runtime.IsReady(o) && o.Status.Artifact != nil && o.Status.Artifact.Revision == revision &&
			o.Status.ObservedGeneration == o.Generation
	})
}

// failedWith waits until Ready is False with reason.
func failedWith(t *testing.T, key client.ObjectKey, reason string) *sourcev1.GitRepository {
	t.Helper()
	obj := waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason
	})
	// The messages users see, for docs/gitrepository.md: go test -v.
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, runtime.Message(obj, meta.ReadyCondition))
	return obj
}

func newRepo(t *testing.T, ns, name, url string, mutate func(*sourcev1.GitRepository)) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:      url,
			Interval: metav1.Duration{Duration: time.Hour},
		},
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

// requestReconcile sets the requestedAt annotation, as `gotk reconcile` does.
func requestReconcile(t *testing.T, key client.ObjectKey) {
	env.RequestReconcile(t, &sourcev1.GitRepository{}, key)
}

// download fetches the artifact over HTTP, checks its digest and returns
// the sorted list of files it holds.
func download(t *testing.T, art *meta.Artifact) []string {
	t.Helper()
	data := testenv.FetchArtifact(t, art)
	dir := t.TempDir()
	if _, err := artifact.Extract(strings.NewReader(string(data)), dir, artifact.Limits{}); err != nil {
		t.Fatal(err)
	}
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(files)
	return files
}

// holds checks for a few seconds that cond keeps holding: the way to see
// that something does not happen (no reconcile while suspended, no event
// for a no-op).
func holds(t *testing.T, key client.ObjectKey, d time.Duration, cond func(*sourcev1.GitRepository) bool) {
	t.Helper()
	obj := &sourcev1.GitRepository{}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			t.Fatal(err)
		}
		if !cond(obj) {
			t.Fatalf("%s: condition stopped holding; status: %+v", key, obj.Status)
		}
	}
}

// handled waits until the reconcile request made by requestReconcile was
// processed and the object is ready again.
func handled(t *testing.T, key client.ObjectKey) *sourcev1.GitRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.GitRepository) bool {
		return o.Status.LastHandledReconcileAt != "" && runtime.IsReady(o) &&
			o.Status.LastHandledReconcileAt == o.Annotations[meta.ReconcileRequestAnnotation]
	})
}

// storedFiles lists the artifact files of the object in storage.
func storedFiles(t *testing.T, key client.ObjectKey) []string {
	t.Helper()
	dir := filepath.Join(storage.BasePath(), "gitrepository", key.Namespace, key.Name)
	entries, err := os.ReadDir(dir)
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

// readyMessage returns the message of the Ready condition.
func readyMessage(o *sourcev1.GitRepository) string { return runtime.Message(o, meta.ReadyCondition) }
