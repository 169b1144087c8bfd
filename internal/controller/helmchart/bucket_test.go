package helmchart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
)

// publishBucket stores files as the artifact of the Bucket, with the
// revision sha256:<hex> a Bucket gets, as the Bucket reconciler would,
// and returns the hex.
func publishBucket(t *testing.T, bucket *sourcev1.Bucket, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	h := sha256.New()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(name + data))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	art, err := storage.NewArtifact(artifact.RefFor(sourcev1.BucketKind, bucket), "sha256:"+sum, sum[:8]+".tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.ArchiveDir(&art, dir, nil); err != nil {
		t.Fatal(err)
	}
	bucket.Status.Artifact = &art
	if err := env.Client.Status().Update(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	return sum
}

// A chart from a Bucket's artifact goes through the same build as one from
// Git: under Revision its version carries the first 12 characters of the
// Bucket's digest, and a new Bucket artifact gives a new chart artifact.
// (No Bucket reconciler runs here: the test publishes the artifact.)
func TestChartFromBucket(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	bucket := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.BucketSpec{BucketName: "charts", Endpoint: "127.0.0.1:9", Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"app/Chart.yaml":        chartYAML("app", "2.0.0", ""),
		"app/values.yaml":       "greeting: one\n",
		"app/templates/cm.yaml": configMap,
	}
	sum := publishBucket(t, bucket, files)
	key := newChart(t, ns, "app", "charts", "app", "", func(o *sourcev1.HelmChart) {
		o.Spec.SourceRef = sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.BucketKind, Name: "charts"}
		o.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
	})
	obj := readyAt(t, key, "2.0.0+"+sum[:12])
	if ch := download(t, obj.Status.Artifact); ch.Values["greeting"] != "one" || obj.Status.ObservedSourceArtifactRevision != "sha256:"+sum {
		t.Errorf("values %v, status %+v", ch.Values, obj.Status)
	}

	files["app/values.yaml"] = "greeting: two\n"
	sum = publishBucket(t, bucket, files)
	obj = readyAt(t, key, "2.0.0+"+sum[:12])
	if ch := download(t, obj.Status.Artifact); ch.Values["greeting"] != "two" {
		t.Errorf("values after the new Bucket artifact: %v", ch.Values)
	}
}
