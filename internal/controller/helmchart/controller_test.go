package helmchart

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// A chart behind basic authentication, named by a relative URL in the
// index, is pulled at the newest version in range; the artifact is
// <name>-<version>.tgz, its sha256 is its digest and it loads as the
// chart. A new version in range pushed to the repository gives a new
// artifact once the repository's index moves. Pre-releases are chosen
// only by a range that asks for them.
func TestChartFromRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{Username: "helm", Password: "s3cret"})
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1"} {
		hs.Package(t, hs.Chart{Name: "app", Version: v, Values: "greeting: v" + v + "\n"}, srv.Dir)
	}
	srv.Reindex(t)
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	repoKey := newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	})

	oneX := newChart(t, ns, "one-x", "charts", "app", "1.x", nil)
	latest := newChart(t, ns, "latest", "charts", "app", "", nil)
	pre := newChart(t, ns, "pre", "charts", "app", ">=2.0.0-0", nil)

	obj := readyAt(t, oneX, "1.1.0")
	art := obj.Status.Artifact
	if path.Base(art.Path) != "app-1.1.0.tgz" {
		t.Errorf("artifact path %s, want .../app-1.1.0.tgz", art.Path)
	}
	ch := download(t, art)
	if ch.Metadata.Version != "1.1.0" || ch.Values["greeting"] != "v1.1.0" {
		t.Errorf("artifact holds %s %s with values %v", ch.Name(), ch.Metadata.Version, ch.Values)
	}
	if got := readyMessage(obj); got != "pulled 'app' chart with version '1.1.0'" {
		t.Errorf("Ready message %q", got)
	}
	if obj.Status.ObservedChartName != "app" || obj.Status.URL != art.URL || obj.Status.ObservedSourceArtifactRevision == "" {
		t.Errorf("status %+v", obj.Status)
	}
	readyAt(t, latest, "1.1.0")
	readyAt(t, pre, "2.0.0-rc.1")

	srv.Add(t, hs.Chart{Name: "app", Version: "1.2.0"})
	requestRepoReconcile(t, repoKey)
	obj = readyAt(t, oneX, "1.2.0")
	if obj.Status.Artifact.Digest == art.Digest {
		t.Error("a new version kept the old artifact")
	}
	if ch := download(t, obj.Status.Artifact); ch.Metadata.Version != "1.2.0" {
		t.Errorf("new artifact holds version %s", ch.Metadata.Version)
	}
	readyAt(t, latest, "1.2.0")
}

// valuesFiles are merged in order, later files winning, into the packaged
// chart's values.yaml; the revision gets +<generation>; a missing file is
// skipped with ignoreMissingValuesFiles and fails without it, keeping the
// last artifact.
func TestChartValuesFiles(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{AbsoluteURLs: true})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0", Values: "greeting: hello\nreplicas: 1\nnested:\n  a: 1\n  b: 1\n",
		Files: map[string]string{"values-prod.yaml": "greeting: prod\nnested:\n  b: 2\n"}})
	newRepo(t, ns, "charts", srv.URL, nil)
	key := newChart(t, ns, "app", "charts", "app", "1.0.0", func(o *sourcev1.HelmChart) {
		o.Spec.ValuesFiles = []string{"values.yaml", "values-prod.yaml", "missing.yaml"}
		o.Spec.IgnoreMissingValuesFiles = true
	})
	obj := readyAt(t, key, "1.0.0+1")
	if path.Base(obj.Status.Artifact.Path) != "app-1.0.0+1.tgz" {
		t.Errorf("artifact path %s", obj.Status.Artifact.Path)
	}
	if diff := cmp.Diff([]string{"values.yaml", "values-prod.yaml"}, obj.Status.ObservedValuesFiles); diff != "" {
		t.Errorf("observedValuesFiles (-want +got):\n%s", diff)
	}
	ch := download(t, obj.Status.Artifact)
	want := map[string]any{"greeting": "prod", "replicas": float64(1), "nested": map[string]any{"a": float64(1), "b": float64(2)}}
	if diff := cmp.Diff(want, ch.Values); diff != "" {
		t.Errorf("merged values (-want +got):\n%s", diff)
	}
	if ch.Metadata.Version != "1.0.0+1" {
		t.Errorf("packaged chart version %s", ch.Metadata.Version)
	}
	good := *obj.Status.Artifact

	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.IgnoreMissingValuesFiles = false })
	obj = failedWith(t, key, sourcev1.ChartPackageFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, `"missing.yaml" is not in chart 'app'`) {
		t.Errorf("Ready message %q should name the missing file", msg)
	}
	if !runtime.IsTrue(obj, meta.BuildFailedCondition) || obj.Status.Artifact.Revision != good.Revision {
		t.Errorf("want BuildFailed and the last artifact: %+v", obj.Status)
	}
	download(t, &good)

	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.ValuesFiles = []string{"values-prod.yaml"} })
	obj = readyAt(t, key, "1.0.0+3")
	if ch := download(t, obj.Status.Artifact); ch.Values["replicas"] != nil || ch.Values["greeting"] != "prod" {
		t.Errorf("values without values.yaml listed: %v", ch.Values)
	}
}

// A chart missing from the index, a range nothing matches and a range that
// does not parse each say so; the last is Stalled.
func TestChartBadInput(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0"})
	newRepo(t, ns, "charts", srv.URL, nil)

	key := newChart(t, ns, "missing", "charts", "nope", "", nil)
	obj := failedWith(t, key, sourcev1.ChartPullFailedReason)
	if msg := readyMessage(obj); msg != "chart 'nope' is not in the repository index" || runtime.IsStalled(obj) {
		t.Errorf("Ready message %q, stalled %v", msg, runtime.IsStalled(obj))
	}

	key = newChart(t, ns, "norange", "charts", "app", "~2.0", nil)
	obj = failedWith(t, key, sourcev1.ChartPullFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, `no version of chart 'app' matches spec.version "~2.0" (the newest is 1.0.0)`) {
		t.Errorf("Ready message %q", msg)
	}

	key = newChart(t, ns, "badrange", "charts", "app", "not a range", nil)
	obj = failedWith(t, key, meta.InvalidSpecReason)
	if msg := readyMessage(obj); !runtime.IsStalled(obj) || !strings.Contains(msg, `spec.version "not a range" is not a SemVer range`) {
		t.Errorf("want Stalled with the range named: %q %+v", msg, obj.Status.Conditions)
	}

	// A range fixed in the spec recovers the chart.
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.Version = "1.*" })
	obj = readyAt(t, key, "1.0.0")
	if runtime.IsStalled(obj) || slices.ContainsFunc(obj.Status.Conditions, func(c metav1.Condition) bool { return c.Type == meta.FetchFailedCondition }) {
		t.Errorf("conditions after the fix: %+v", obj.Status.Conditions)
	}

	// A range that stops matching keeps the last artifact served.
	good := *obj.Status.Artifact
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.Version = ">=3.0.0" })
	obj = failedWith(t, key, sourcev1.ChartPullFailedReason)
	if obj.Status.Artifact == nil || obj.Status.Artifact.Digest != good.Digest {
		t.Errorf("artifact %+v, want the last good one", obj.Status.Artifact)
	}
	download(t, &good)
}

// A chart from a repository that needs a TLS client certificate and names
// charts by absolute URLs is pulled with the repository's certSecretRef.
func TestChartOverTLS(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{TLS: true, AbsoluteURLs: true})
	srv.Add(t, hs.Chart{Name: "app", Version: "0.3.0"})
	newSecret(t, ns, "tls", map[string][]byte{"ca.crt": srv.CA, "tls.crt": srv.ClientCert, "tls.key": srv.ClientKey})
	newRepo(t, ns, "charts", srv.URL, func(o *sourcev1.HelmRepository) {
		o.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "tls"}
	})
	key := newChart(t, ns, "app", "charts", "app", "", nil)
	download(t, readyAt(t, key, "0.3.0").Status.Artifact)
	if !slices.Contains(srv.Requests(), "GET /app-0.3.0.tgz") {
		t.Errorf("chart not downloaded from the absolute URL: %v", srv.Requests())
	}
}

// Every HelmChart of a repository reads the repository's index through
// one shared cache entry: three charts on one index read it once.
func TestChartsShareOneIndexRead(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{})
	for _, name := range []string{"a", "b", "c"} {
		hs.Package(t, hs.Chart{Name: name, Version: "1.0.0"}, srv.Dir)
	}
	srv.Reindex(t)
	repoKey := newRepo(t, ns, "charts", srv.URL, nil)
	for _, name := range []string{"a", "b", "c"} {
		newChart(t, ns, name, "charts", name, "", nil)
	}
	var digest string
	for _, name := range []string{"a", "b", "c"} {
		obj := readyAt(t, client.ObjectKey{Namespace: ns, Name: name}, "1.0.0")
		digest = obj.Status.ObservedSourceArtifactRevision
	}
	repo := &sourcev1.HelmRepository{}
	if err := env.Client.Get(context.Background(), repoKey, repo); err != nil {
		t.Fatal(err)
	}
	if repo.Status.Artifact.Revision != digest {
		t.Fatalf("charts built from index %s, repository at %s", digest, repo.Status.Artifact.Revision)
	}
	if n := charts.Indexes.ReadsOf(repo.Status.Artifact.Digest); n != 1 {
		t.Errorf("the index was read %d times for three charts, want once", n)
	}
}

// spec.verify stalls with a message saying it is not supported.
func TestChartVerifyNotSupported(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0"})
	newRepo(t, ns, "charts", srv.URL, nil)
	key := newChart(t, ns, "app", "charts", "app", "", func(o *sourcev1.HelmChart) {
		o.Spec.Verify = &sourcev1.OCIVerification{Provider: "cosign"}
	})
	obj := failedWith(t, key, meta.InvalidSpecReason)
	if msg := readyMessage(obj); !runtime.IsStalled(obj) || !strings.Contains(msg, "spec.verify is not supported") {
		t.Errorf("want Stalled saying spec.verify is not supported: %q", msg)
	}
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.Verify = nil })
	readyAt(t, key, "1.0.0")
}

// writeArchive writes a gzipped tar of files (name -> content, or size of
// zeros when content is "") at file.
func writeArchive(t *testing.T, file string, files []archiveFile) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for _, af := range files {
		size := int64(len(af.data))
		if af.zeros > 0 {
			size = af.zeros
		}
		if err := tw.WriteHeader(&tar.Header{Name: af.name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if af.zeros > 0 {
			if _, err := io.CopyN(tw, zeroReader{}, af.zeros); err != nil {
				t.Fatal(err)
			}
		} else if _, err := tw.Write([]byte(af.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

type archiveFile struct {
	name, data string
	zeros      int64
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A chart archive with a path climbing out of the chart, one that unpacks
// to more than Helm's decompressed size cap and one with an invalid
// Chart.yaml each fail the build with the SDK's reason, and the last good
// artifact stays served.
func TestChartBadArchives(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := hs.Start(t, hs.Options{})
	hs.Package(t, hs.Chart{Name: "app", Version: "1.0.0"}, srv.Dir)
	chartYAML := func(v string) string { return "apiVersion: v2\nname: app\nversion: " + v + "\n" }
	writeArchive(t, filepath.Join(srv.Dir, "app-1.1.0.tgz"), []archiveFile{
		{name: "app/Chart.yaml", data: chartYAML("1.1.0")}, {name: "app/../../etc/evil.yaml", data: "a: 1\n"}})
	writeArchive(t, filepath.Join(srv.Dir, "app-1.2.0.tgz"), []archiveFile{
		{name: "app/Chart.yaml", data: chartYAML("1.2.0")}, {name: "app/big.bin", zeros: 101 << 20}})
	writeArchive(t, filepath.Join(srv.Dir, "app-1.3.0.tgz"), []archiveFile{
		{name: "app/Chart.yaml", data: "apiVersion: v2\nname: app\nversion: [1.3.0\n"}})
	entry := func(v string) string {
		return "  - apiVersion: v2\n    name: app\n    version: " + v + "\n    urls: [app-" + v + ".tgz]\n"
	}
	srv.WriteIndex(t, []byte("apiVersion: v1\nentries:\n  app:\n"+entry("1.0.0")+entry("1.1.0")+entry("1.2.0")+entry("1.3.0")))
	newRepo(t, ns, "charts", srv.URL, nil)
	key := newChart(t, ns, "app", "charts", "app", "1.0.0", nil)
	good := *readyAt(t, key, "1.0.0").Status.Artifact

	for _, tt := range []struct{ version, want string }{
		{"1.1.0", "chart illegally references parent directory"},
		{"1.2.0", "decompressed chart is larger than the maximum size"},
		{"1.3.0", "chart 'app' version 1.3.0 is not a valid chart"},
	} {
		updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.Version = tt.version })
		obj := failedWith(t, key, sourcev1.ChartPackageFailedReason)
		if msg := readyMessage(obj); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "version "+tt.version) {
			t.Errorf("%s: Ready message %q, want %q", tt.version, msg, tt.want)
		}
		if !runtime.IsTrue(obj, meta.BuildFailedCondition) || obj.Status.Artifact.Digest != good.Digest {
			t.Errorf("%s: want BuildFailed and the last good artifact: %+v", tt.version, obj.Status)
		}
	}
	download(t, &good)
}
