package helmchart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// waitFor polls the object until cond holds, failing after 90s with its
// status.
func waitFor(t *testing.T, key client.ObjectKey, cond func(*sourcev1.HelmChart) bool) *sourcev1.HelmChart {
	t.Helper()
	obj := &sourcev1.HelmChart{}
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

// readyAt waits until the chart is Ready with an artifact of revision.
func readyAt(t *testing.T, key client.ObjectKey, revision string) *sourcev1.HelmChart {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.HelmChart) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation &&
			o.Status.Artifact != nil && o.Status.Artifact.Revision == revision
	})
}

// failedWith waits until Ready is False with reason for the current
// generation.
func failedWith(t *testing.T, key client.ObjectKey, reason string) *sourcev1.HelmChart {
	t.Helper()
	obj := waitFor(t, key, func(o *sourcev1.HelmChart) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason &&
			o.Status.ObservedGeneration == o.Generation
	})
	// The messages users see, for docs/helmchart.md: go test -v.
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, readyMessage(obj))
	return obj
}

func readyMessage(o *sourcev1.HelmChart) string { return runtime.Message(o, meta.ReadyCondition) }

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

func newChart(t *testing.T, ns, name, repoName, chartName, version string, mutate func(*sourcev1.HelmChart)) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.HelmChartSpec{
			Chart:     chartName,
			Version:   version,
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: repoName},
			Interval:  metav1.Duration{Duration: time.Hour},
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

func updateChart(t *testing.T, key client.ObjectKey, mutate func(*sourcev1.HelmChart)) {
	t.Helper()
	obj := &sourcev1.HelmChart{}
	if err := env.Client.Get(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	mutate(obj)
	if err := env.Client.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func newSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// requestRepoReconcile asks the HelmRepository to fetch its index again.
func requestRepoReconcile(t *testing.T, key client.ObjectKey) {
	t.Helper()
	obj := &sourcev1.HelmRepository{}
	if err := env.Client.Get(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopy())
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	if err := env.Client.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

// download fetches the artifact over HTTP, checks that its sha256 is the
// digest of status, and loads it as a chart with the Helm SDK.
func download(t *testing.T, art *meta.Artifact) *chart.Chart {
	t.Helper()
	resp, err := http.Get(art.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", art.URL, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != art.Digest {
		t.Fatalf("artifact digest %s, status says %s", got, art.Digest)
	}
	file := filepath.Join(t.TempDir(), "chart.tgz")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := helm.LoadChart(file, art.URL)
	if err != nil {
		t.Fatalf("artifact is not a chart: %v", err)
	}
	return ch
}
