package helmchart

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

func newGitRepo(t *testing.T, ns, name, url string) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: gs.DefaultBranch}},
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

// gitChart creates a HelmChart of the chart at path in the GitRepository.
func gitChart(t *testing.T, ns, name, repo, path string, mutate func(*sourcev1.HelmChart)) client.ObjectKey {
	t.Helper()
	return newChart(t, ns, name, repo, path, "", func(o *sourcev1.HelmChart) {
		o.Spec.SourceRef = sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.GitRepositoryKind, Name: repo}
		if mutate != nil {
			mutate(o)
		}
	})
}

// pushGit commits files and makes the GitRepository fetch the commit; it
// returns the commit.
func pushGit(t *testing.T, w *gs.WorkTree, repo client.ObjectKey, files map[string]string) string {
	t.Helper()
	commit := gs.Must[string](t)(w.CommitFiles("change", files))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	env.RequestReconcile(t, &sourcev1.GitRepository{}, repo)
	return commit
}

func chartYAML(name, version, deps string) string {
	return fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ntype: application\n%s", name, version, deps)
}

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"

// A chart from a GitRepository is packaged with its dependencies: one by
// a file:// path in the repository, one from the HelmRepository of the
// namespace whose URL the dependency names, at the version Chart.lock
// pins rather than the newest in range. Under ChartVersion a new commit
// that keeps the chart version gives no new artifact, and a version bump
// does; under Revision every commit does, with +<12 chars of the commit>.
// Values files are paths from the repository root.
func TestChartFromGitRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	helmSrv := hs.Start(t, hs.Options{})
	helmSrv.Add(t, hs.Chart{Name: "remote", Version: "1.0.0", Values: "from: remote-1.0.0\n"})
	helmSrv.Add(t, hs.Chart{Name: "remote", Version: "1.1.0"})
	newRepo(t, ns, "deps", helmSrv.URL+"/", nil)

	deps := "dependencies:\n- name: lib\n  version: 0.1.x\n  repository: file://../lib\n- name: remote\n  version: 1.x\n  repository: " + helmSrv.URL + "\n"
	lock := "dependencies:\n- name: lib\n  repository: file://../lib\n  version: 0.1.0\n- name: remote\n  repository: " + helmSrv.URL + "\n  version: 1.0.0\ndigest: sha256:0\ngenerated: \"2026-01-01T00:00:00Z\"\n"
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "charts.git", map[string]string{
		"charts/app/Chart.yaml":        chartYAML("app", "0.1.0", deps),
		"charts/app/Chart.lock":        lock,
		"charts/app/values.yaml":       "greeting: hello\nreplicas: 1\n",
		"charts/app/templates/cm.yaml": configMap,
		"charts/lib/Chart.yaml":        chartYAML("lib", "0.1.0", ""),
		"charts/lib/templates/cm.yaml": configMap,
		"env/prod.yaml":                "greeting: prod\n",
	})
	gitKey := newGitRepo(t, ns, "charts", srv.RepoURL("charts.git"))

	byVersion := gitChart(t, ns, "by-version", "charts", "charts/app", nil)
	byRevision := gitChart(t, ns, "by-revision", "charts", "./charts/app/", func(o *sourcev1.HelmChart) {
		o.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
		o.Spec.ValuesFiles = []string{"charts/app/values.yaml", "env/prod.yaml"}
	})
	head := gs.Must[string](t)(w.Head())

	obj := readyAt(t, byVersion, "0.1.0")
	first := *obj.Status.Artifact
	ch := download(t, &first)
	var got []string
	for _, d := range ch.Dependencies() {
		got = append(got, d.Name()+"-"+d.Metadata.Version)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "lib-0.1.0,remote-1.0.0" {
		t.Errorf("packaged dependencies %v, want lib-0.1.0 and remote-1.0.0 (the locked version)", got)
	}
	if ch.Values["greeting"] != "hello" || obj.Status.ObservedChartName != "app" ||
		obj.Status.ObservedSourceArtifactRevision != "main@sha1:"+head {
		t.Errorf("values %v, status %+v", ch.Values, obj.Status)
	}
	obj = readyAt(t, byRevision, "0.1.0+"+head[:12]+".1")
	if ch := download(t, obj.Status.Artifact); ch.Values["greeting"] != "prod" || ch.Values["replicas"] != float64(1) {
		t.Errorf("merged values %v", ch.Values)
	}

	// A commit that keeps the version: only the Revision chart moves.
	head = pushGit(t, w, gitKey, map[string]string{"charts/app/values.yaml": "greeting: changed\nreplicas: 1\n"})
	readyAt(t, byRevision, "0.1.0+"+head[:12]+".1")
	obj = waitFor(t, byVersion, func(o *sourcev1.HelmChart) bool {
		return o.Status.ObservedSourceArtifactRevision == "main@sha1:"+head && runtime.IsReady(o)
	})
	if obj.Status.Artifact.Digest != first.Digest || obj.Status.Artifact.Revision != "0.1.0" {
		t.Errorf("a commit without a version bump changed the ChartVersion artifact: %+v", obj.Status.Artifact)
	}

	// A version bump gives a new artifact with the new content.
	pushGit(t, w, gitKey, map[string]string{"charts/app/Chart.yaml": chartYAML("app", "0.2.0", deps)})
	obj = readyAt(t, byVersion, "0.2.0")
	if ch := download(t, obj.Status.Artifact); ch.Values["greeting"] != "changed" {
		t.Errorf("values after the bump %v", ch.Values)
	}
}

// An invalid Chart.yaml, a dependency that no HelmRepository serves, one
// that leaves the repository and a missing values file each fail the
// build with a message naming it, and keep the last good artifact.
func TestChartFromGitRepositoryBadInput(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "charts.git", map[string]string{
		"app/Chart.yaml":        chartYAML("app", "1.0.0", ""),
		"app/templates/cm.yaml": configMap,
	})
	gitKey := newGitRepo(t, ns, "charts", srv.RepoURL("charts.git"))
	key := gitChart(t, ns, "app", "charts", "app", nil)
	good := *readyAt(t, key, "1.0.0").Status.Artifact

	for _, tt := range []struct {
		name, chartYAML, want string
	}{
		{"invalid Chart.yaml", "apiVersion: v2\nname: app\nversion: [1\n", "invalid Chart.yaml"},
		{"no version", "apiVersion: v2\nname: app\n", "invalid Chart.yaml"},
		{"unserved dependency", chartYAML("app", "1.0.1", "dependencies:\n- name: db\n  version: 1.x\n  repository: https://charts.example.com/\n"),
			"dependency 'db' (https://charts.example.com/): no HelmRepository in namespace " + ns + " has spec.url https://charts.example.com/"},
		{"dependency outside", chartYAML("app", "1.0.2", "dependencies:\n- name: db\n  version: 1.x\n  repository: file://../../../etc\n"),
			"leaves the source artifact"},
	} {
		head := pushGit(t, w, gitKey, map[string]string{"app/Chart.yaml": tt.chartYAML})
		obj := waitFor(t, key, func(o *sourcev1.HelmChart) bool {
			return runtime.IsFalse(o, meta.ReadyCondition) && strings.Contains(readyMessage(o), head)
		})
		t.Logf("%s: %s", tt.name, readyMessage(obj))
		if msg := readyMessage(obj); !strings.Contains(msg, tt.want) || runtime.Reason(obj, meta.ReadyCondition) != sourcev1.ChartPackageFailedReason {
			t.Errorf("%s: Ready message %q, want %q", tt.name, msg, tt.want)
		}
		if !runtime.IsTrue(obj, meta.BuildFailedCondition) || obj.Status.Artifact.Digest != good.Digest {
			t.Errorf("%s: want BuildFailed and the last good artifact: %+v", tt.name, obj.Status)
		}
	}
	download(t, &good)

	pushGit(t, w, gitKey, map[string]string{"app/Chart.yaml": chartYAML("app", "1.1.0", "")})
	readyAt(t, key, "1.1.0")
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.ValuesFiles = []string{"app/missing.yaml"} })
	obj := failedWith(t, key, sourcev1.ChartPackageFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, `"app/missing.yaml" is not in the source artifact`) || obj.Status.Artifact.Revision != "1.1.0" {
		t.Errorf("Ready message %q, artifact %+v", msg, obj.Status.Artifact)
	}
	updateChart(t, key, func(o *sourcev1.HelmChart) { o.Spec.IgnoreMissingValuesFiles = true })
	readyAt(t, key, "1.1.0+3")
}

// A dependency in an OCI registry is pulled with the login data of the
// OCI HelmRepository of the namespace whose URL the dependency names.
func TestChartFromGitRepositoryWithOCIDependency(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "helm", "s3cret")
	reg.PushChart(t, hs.Package(t, hs.Chart{Name: "db", Version: "1.2.0", Values: "from: oci\n"}, t.TempDir()), "charts")
	newSecret(t, ns, "auth", map[string][]byte{"username": []byte("helm"), "password": []byte("s3cret")})
	ociRepo(t, ns, "oci", reg, "auth")

	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	gs.MustSeed(t, srv.Root, "charts.git", map[string]string{
		"app/Chart.yaml": chartYAML("app", "1.0.0",
			"dependencies:\n- name: db\n  version: 1.x\n  repository: oci://"+reg.Host+"/charts\n"),
		"app/templates/cm.yaml": configMap,
	})
	newGitRepo(t, ns, "charts", srv.RepoURL("charts.git"))
	key := gitChart(t, ns, "app", "charts", "app", nil)
	ch := download(t, readyAt(t, key, "1.0.0").Status.Artifact)
	deps := ch.Dependencies()
	if len(deps) != 1 || deps[0].Name() != "db" || deps[0].Metadata.Version != "1.2.0" || deps[0].Values["from"] != "oci" {
		t.Errorf("packaged dependencies: %v", deps)
	}
}
