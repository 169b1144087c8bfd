package helmrelease

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

// chartRefRelease creates a HelmRelease of the chart that the artifact of
// kind/name is, with the wait disabled.
func chartRefRelease(t *testing.T, ns, name, kind, source string) client.ObjectKey {
	t.Helper()
	obj := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: kind, Name: source},
			Install:  &helmv2.Install{DisableWait: true},
			Upgrade:  &helmv2.Upgrade{DisableWait: true},
		},
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

// readyWithPrefix waits until the HelmRelease is Ready with a deployed
// release whose chart version starts with prefix.
func readyWithPrefix(t *testing.T, key client.ObjectKey, prefix string) *helmv2.HelmRelease {
	t.Helper()
	return waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		latest := o.Status.History.Latest()
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation &&
			latest != nil && strings.HasPrefix(latest.ChartVersion, prefix) && latest.Status == "deployed"
	})
}

// spec.chartRef to an OCIRepository installs the chart of its artifact,
// with the artifact's digest in the chart version as Flux records it, and
// a new artifact upgrades the release.
func TestChartRefOCIRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	reg := ociregistry.Start(t, "", "")
	dir := t.TempDir()
	digest := reg.PushChart(t, hs.Package(t, appChart("1.0.0"), dir), "charts")
	repo := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       "oci://" + reg.Host + "/charts/app",
			Insecure:  true,
			Reference: &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0"},
			LayerSelector: &sourcev1.OCILayerSelector{
				MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Operation: sourcev1.OCILayerCopy},
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	key := chartRefRelease(t, ns, "web", sourcev1.OCIRepositoryKind, "app")
	obj := readyWithPrefix(t, key, "1.0.0+")
	t.Logf("installed chart %s, revision digest %s (layer %s)", obj.Status.History.Latest().ChartVersion,
		obj.Status.LastAttemptedRevisionDigest, digest)
	if !strings.HasPrefix(obj.Status.LastAttemptedRevisionDigest, "sha256:") ||
		obj.Status.LastAttemptedRevision != obj.Status.History.Latest().ChartVersion {
		t.Errorf("lastAttemptedRevision %q, lastAttemptedRevisionDigest %q", obj.Status.LastAttemptedRevision, obj.Status.LastAttemptedRevisionDigest)
	}
	greetingIs(t, ns, "web", "hello")

	next := appChart("1.1.0")
	next.Values = "greeting: from-oci\n"
	reg.PushChart(t, hs.Package(t, next, dir), "charts")
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
			t.Fatal(err)
		}
		if repo.Annotations == nil {
			repo.Annotations = map[string]string{}
		}
		repo.Annotations[meta.ReconcileRequestAnnotation] = time.Now().String()
		if err := env.Client.Update(ctx, repo); err == nil {
			break
		}
	}
	obj = readyWithPrefix(t, key, "1.1.0+")
	if v := obj.Status.History.Latest().Version; v != 2 {
		t.Errorf("release version %d after the new artifact, want 2", v)
	}
	greetingIs(t, ns, "web", "from-oci")
}

// spec.chartRef to an ExternalArtifact installs the chart of its
// artifact; a new artifact with the same chart version upgrades, since
// the digest is part of the chart version.
func TestChartRefExternalArtifact(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	ea := &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}
	if err := env.Client.Create(ctx, ea); err != nil {
		t.Fatal(err)
	}
	publish := func(greeting string) {
		t.Helper()
		c := appChart("1.0.0")
		c.Values = "greeting: " + greeting + "\n"
		data, err := os.ReadFile(hs.Package(t, c, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		art, err := artifacts.NewArtifact(artifact.Ref{Kind: sourcev1.ExternalArtifactKind, Namespace: ns, Name: "app"},
			"1.0.0", greeting+".tgz")
		if err != nil {
			t.Fatal(err)
		}
		if err := artifacts.WriteFile(&art, data); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ea), ea); err != nil {
			t.Fatal(err)
		}
		art.LastUpdateTime = metav1.Now()
		ea.Status.Artifact = &art
		ea.Status.ObservedGeneration = ea.Generation
		if err := env.Client.Status().Update(ctx, ea); err != nil {
			t.Fatal(err)
		}
	}
	publish("first")
	key := chartRefRelease(t, ns, "web", sourcev1.ExternalArtifactKind, "app")
	readyWithPrefix(t, key, "1.0.0+")
	greetingIs(t, ns, "web", "first")

	publish("second")
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.History.Latest() != nil && o.Status.History.Latest().Version == 2
	})
	if !strings.HasPrefix(obj.Status.History.Latest().ChartVersion, "1.0.0+") {
		t.Errorf("chart version %q", obj.Status.History.Latest().ChartVersion)
	}
	greetingIs(t, ns, "web", "second")
}
