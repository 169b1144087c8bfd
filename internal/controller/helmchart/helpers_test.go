package helmchart

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
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
	env.CreateSecret(t, ns, name, data)
}

// requestRepoReconcile asks the HelmRepository to fetch its index again.
func requestRepoReconcile(t *testing.T, key client.ObjectKey) {
	env.RequestReconcile(t, &sourcev1.HelmRepository{}, key)
}

// download fetches the artifact over HTTP, checks that its sha256 is the
// digest of status, and loads it as a chart with the Helm SDK.
func download(t *testing.T, art *meta.Artifact) *chart.Chart {
	t.Helper()
	data := testenv.FetchArtifact(t, art)
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
