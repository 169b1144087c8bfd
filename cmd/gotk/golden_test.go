package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/internal/install"
)

// goldenNS is the namespace of the golden fixture: a fixed name, as the
// outputs print it.
const goldenNS = "golden"

const (
	podinfoRev = "master@sha1:0123456789abcdef0123456789abcdef01234567"
	pausedRev  = "v1.2.0@sha1:89abcdef0123456789abcdef0123456789abcdef"
	indexRev   = "sha256:6c1a8f0123456789abcdef0123456789abcdef0123456789abcdef01234567"
)

// goldenFixture applies the objects the golden outputs show and writes
// their status, as controllers would have. It is idempotent, so that
// -count=2 works.
func goldenFixture(t *testing.T) {
	t.Helper()
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	fixedNamespace(t, goldenNS)
	fixedNamespace(t, "web")
	apply := func(doc string) {
		t.Helper()
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if err := install.ApplyObject(ctx, e.Client, u); err != nil {
			t.Fatal(err)
		}
	}
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: golden
  labels: {gotk-test/unmanaged: "true"}
  finalizers: [finalizers.fluxcd.io]
  annotations:
    team: web
    reconcile.fluxcd.io/requestedAt: "2026-01-02T03:04:05.123456789Z"
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec:
  url: https://github.com/stefanprodan/podinfo
  ref: {branch: master}
  interval: 1m
`)
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: broken, namespace: golden, labels: {gotk-test/unmanaged: "true"}}
spec:
  url: https://example.com/missing.git
  ref: {tag: v1.0.0}
  interval: 5m
`)
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: paused, namespace: golden, labels: {gotk-test/unmanaged: "true"}}
spec:
  url: https://github.com/org/paused
  ref: {semver: ">=1.0.0"}
  interval: 1h
  suspend: true
`)
	// The HelmChart's source is the OCI repository, which has no artifact:
	// a new artifact of its source would make the HelmChart reconciler
	// pull the chart, unmanaged label or not.
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: golden, labels: {gotk-test/unmanaged: "true"}}
spec:
  url: https://stefanprodan.github.io/podinfo
  interval: 10m
`)
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo-oci, namespace: golden, labels: {gotk-test/unmanaged: "true"}}
spec:
  type: oci
  url: oci://ghcr.io/stefanprodan/charts
  interval: 10m
`)
	apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: podinfo, namespace: golden, labels: {gotk-test/unmanaged: "true"}}
spec:
  chart: podinfo
  version: 6.x
  sourceRef: {kind: HelmRepository, name: podinfo-oci}
  interval: 10m
`)
	for _, ks := range []struct{ name, path, labels string }{
		{"root", "./clusters/prod", "{}"},
		{"apps", "./deploy/apps", `{kustomize.toolkit.fluxcd.io/name: root, kustomize.toolkit.fluxcd.io/namespace: golden}`},
		{"infra", "./deploy/infra", `{kustomize.toolkit.fluxcd.io/name: apps, kustomize.toolkit.fluxcd.io/namespace: golden}`},
	} {
		apply(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ` + ks.name + `, namespace: golden, labels: ` + ks.labels + `}
spec:
  sourceRef: {kind: GitRepository, name: podinfo}
  path: ` + ks.path + `
  prune: true
  interval: 10m
  targetNamespace: web
`)
	}
	apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: web
  labels: {kustomize.toolkit.fluxcd.io/name: apps, kustomize.toolkit.fluxcd.io/namespace: golden}
data: {color: blue}
`)

	artifact := func(rev string, size int64) map[string]any {
		return map[string]any{
			"path": "gitrepository/golden/x/" + rev + ".tar.gz", "url": "http://source-controller/x.tar.gz", "revision": rev,
			"digest": "sha256:aaaa", "lastUpdateTime": "2026-01-02T03:04:05Z", "size": size,
		}
	}
	setStatus(t, gitRepositoryKind, goldenNS, "podinfo", map[string]any{
		"conditions": []any{readyCondition("True", "Succeeded", "stored artifact for revision '"+podinfoRev+"'")},
		"artifact":   artifact(podinfoRev, 2048),
	})
	setStatus(t, gitRepositoryKind, goldenNS, "broken", map[string]any{
		"conditions": []any{readyCondition("False", "GitOperationFailed", "failed to checkout and determine revision: unable to clone 'https://example.com/missing.git': repository not found")},
	})
	setStatus(t, gitRepositoryKind, goldenNS, "paused", map[string]any{
		"conditions": []any{readyCondition("True", "Succeeded", "stored artifact for revision '"+pausedRev+"'")},
		"artifact":   artifact(pausedRev, 3<<20),
	})
	setStatus(t, helmRepositoryKind, goldenNS, "charts", map[string]any{
		"conditions": []any{readyCondition("True", "Succeeded", "stored artifact: revision '"+indexRev+"'")},
		"artifact":   artifact(indexRev, 4096),
		"url":        "http://source-controller/helmrepository/golden/charts/index.yaml",
	})
	setStatus(t, helmRepositoryKind, goldenNS, "podinfo-oci", map[string]any{
		"conditions": []any{readyCondition("True", "Succeeded", "Helm repository is ready")},
	})
	setStatus(t, helmChartKind, goldenNS, "podinfo", map[string]any{
		"conditions":        []any{readyCondition("True", "ChartPullSucceeded", "pulled 'podinfo' chart with version '6.7.1'")},
		"artifact":          artifact("6.7.1", 16384),
		"observedChartName": "podinfo",
	})
	inv := func(ids ...string) map[string]any {
		var entries []any
		for _, id := range ids {
			entries = append(entries, map[string]any{"id": id, "v": "v1"})
		}
		return map[string]any{"entries": entries}
	}
	setStatus(t, kustomizationKind, goldenNS, "root", map[string]any{
		"conditions":          []any{readyCondition("True", "ReconciliationSucceeded", "Applied revision: "+podinfoRev)},
		"lastAppliedRevision": podinfoRev,
		"inventory":           inv("golden_apps_kustomize.toolkit.fluxcd.io_Kustomization"),
	})
	setStatus(t, kustomizationKind, goldenNS, "apps", map[string]any{
		"conditions":          []any{readyCondition("True", "ReconciliationSucceeded", "Applied revision: "+podinfoRev)},
		"lastAppliedRevision": podinfoRev,
		"inventory": inv("_web__Namespace", "web_web-config__ConfigMap", "web_web_apps_Deployment",
			"golden_infra_kustomize.toolkit.fluxcd.io_Kustomization", "golden_gone_kustomize.toolkit.fluxcd.io_Kustomization",
			"_web-admin_rbac.authorization.k8s.io_ClusterRole"),
	})
	setStatus(t, kustomizationKind, goldenNS, "infra", map[string]any{
		"conditions":          []any{readyCondition("False", "BuildFailed", "kustomization build failed:\naccumulating resources from 'ingress.yaml': file not found")},
		"lastAppliedRevision": "master@sha1:fedcba9876543210fedcba9876543210fedcba98",
		"inventory": inv("_infra-system__Namespace", "golden_charts_source.toolkit.fluxcd.io_HelmRepository",
			"golden_podinfo_source.toolkit.fluxcd.io_HelmChart"),
	})

	at := func(s string) metav1.Time {
		tm, _ := time.Parse(time.RFC3339, s)
		return metav1.NewTime(tm)
	}
	for _, ev := range []corev1.Event{
		{
			ObjectMeta:     metav1.ObjectMeta{Name: "podinfo.1", Namespace: goldenNS},
			InvolvedObject: corev1.ObjectReference{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Name: "podinfo", Namespace: goldenNS},
			Type:           corev1.EventTypeNormal, Reason: "NewRevision", Message: "stored artifact for commit 'Merge pull request #42'",
			FirstTimestamp: at("2026-01-02T03:00:00Z"), LastTimestamp: at("2026-01-02T03:00:00Z"),
		},
		{
			ObjectMeta:     metav1.ObjectMeta{Name: "infra.1", Namespace: goldenNS},
			InvolvedObject: corev1.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "infra", Namespace: goldenNS},
			Type:           corev1.EventTypeWarning, Reason: "BuildFailed", Message: "kustomization build failed:\naccumulating resources from 'ingress.yaml': file not found",
			FirstTimestamp: at("2026-01-02T03:01:00Z"), LastTimestamp: at("2026-01-02T03:02:00Z"), Count: 2,
		},
		{
			ObjectMeta:     metav1.ObjectMeta{Name: "apps.1", Namespace: goldenNS},
			InvolvedObject: corev1.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "apps", Namespace: goldenNS},
			Type:           corev1.EventTypeNormal, Reason: "ReconciliationSucceeded", Message: "Reconciliation finished in 1.2s, next run in 10m0s",
			FirstTimestamp: at("2026-01-02T02:59:00Z"), LastTimestamp: at("2026-01-02T02:59:00Z"),
		},
		{
			ObjectMeta:     metav1.ObjectMeta{Name: "not-gotk.1", Namespace: goldenNS},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Name: "web-config", Namespace: goldenNS},
			Type:           corev1.EventTypeNormal, Reason: "Created", Message: "not a gotk object",
			FirstTimestamp: at("2026-01-02T03:03:00Z"), LastTimestamp: at("2026-01-02T03:03:00Z"),
		},
	} {
		ev := ev
		if err := e.Client.Create(ctx, &ev); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// fixedAges makes every age "10m" for the test, so that tables are
// stable.
func fixedAges(t *testing.T) {
	t.Helper()
	saved := age
	age = func(time.Time) string { return "10m" }
	t.Cleanup(func() { age = saved })
}

// golden compares got with testdata/name; -update rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("output differs from %s; rerun with -update if the change is deliberate.\n--- want:\n%s--- got:\n%s", path, want, got)
	}
}

// Every read command's output on a fixed set of objects, against golden
// files in testdata/ (go test ./cmd/gotk -run Golden -update rewrites
// them).
func TestGoldenOutputs(t *testing.T) {
	goldenFixture(t)
	fixedAges(t)
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"get-sources-git.txt", []string{"get", "sources", "git"}},
		{"get-kustomizations.txt", []string{"get", "kustomizations"}},
		{"get-sources-helm.txt", []string{"get", "sources", "helm"}},
		{"get-sources-chart.txt", []string{"get", "sources", "chart"}},
		{"export-source-chart.yaml", []string{"export", "source", "chart", "podinfo"}},
		{"get-all.txt", []string{"get", "all"}},
		{"get-all-not-ready.txt", []string{"get", "all", "--status-selector", "ready=false"}},
		{"get-source-git-podinfo.yaml", []string{"get", "sources", "git", "podinfo", "-o", "yaml"}},
		{"stats.txt", []string{"stats"}},
		{"events.txt", []string{"events"}},
		{"events-for.txt", []string{"events", "--for", "Kustomization/infra"}},
		{"tree.txt", []string{"tree", "kustomization", "root"}},
		{"tree.json", []string{"tree", "kustomization", "apps", "-o", "json"}},
		{"trace.txt", []string{"trace", "configmap", "web-config", "-n", "web"}},
		{"trace-kind-slash-name.txt", []string{"trace", "ConfigMap/web-config", "-n", "web"}},
		{"export-sources-git.yaml", []string{"export", "source", "git", "--all"}},
		{"export-kustomization.yaml", []string{"export", "kustomization", "apps"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "-n ") {
				args = append(args, "-n", goldenNS)
			}
			r := kgotk(t, "", args...)
			if r.code != 0 {
				t.Fatalf("%v:\n%s", args, r)
			}
			out := r.stdout
			if strings.HasSuffix(tc.file, ".yaml") && strings.HasPrefix(tc.file, "get-") {
				out = normalizeServerFields(t, out)
			}
			golden(t, tc.file, out)
		})
	}
}

// normalizeServerFields replaces what the server sets (uid, times,
// versions) in get -o yaml output.
func normalizeServerFields(t *testing.T, out string) string {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(out), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetUID("UID")
	u.SetResourceVersion("RV")
	u.SetCreationTimestamp(metav1.Time{})
	u.SetGeneration(1)
	data, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The create --export outputs are stable, and the API server takes them
// (server-side dry-run), as it takes every export of the golden objects.
func TestGoldenExportsAreAccepted(t *testing.T) {
	goldenFixture(t)
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	gitExport := kgotk(t, "", "create", "source", "git", "podinfo", "-n", goldenNS, "--export",
		"--url=ssh://git@github.com/stefanprodan/podinfo", "--tag-semver=>=6.0.0 <7.0.0", "--interval=10m",
		"--secret-ref=podinfo-ssh", "--ignore-paths=docs/, *.md", "--verify-secret-ref=pgp-keys", "--verify-mode=TagAndHEAD",
		"--fetch-timeout=90s", "--label=team=web")
	ksExport := kgotk(t, "", "create", "kustomization", "podinfo", "-n", goldenNS, "--export",
		"--source=GitRepository/podinfo.gotk-system", "--path=./kustomize", "--prune", "--interval=5m",
		"--target-namespace=web", "--depends-on=infra", "--depends-on=gotk-system/crds", "--service-account=deployer",
		"--wait", "--health-check=Deployment/podinfo.web", "--health-check=HelmRelease/redis",
		"--substitute=cluster=prod", "--substitute=region=eu-west-1,eu-central-1")
	helmExport := kgotk(t, "", "create", "source", "helm", "podinfo", "-n", goldenNS, "--export",
		"--url=https://stefanprodan.github.io/podinfo", "--secret-ref=charts-auth", "--cert-secret-ref=charts-tls",
		"--pass-credentials", "--interval=10m", "--fetch-timeout=90s", "--label=team=web")
	ociExport := kgotk(t, "", "create", "source", "helm", "podinfo-oci", "-n", goldenNS, "--export",
		"--url=oci://ghcr.io/stefanprodan/charts", "--secret-ref=ghcr-auth")
	chartExport := kgotk(t, "", "create", "source", "chart", "podinfo", "-n", goldenNS, "--export",
		"--source=HelmRepository/podinfo", "--chart=podinfo", "--chart-version=6.x", "--values-files=values.yaml, values-prod.yaml",
		"--interval=5m", "--reconcile-strategy=Revision")
	secretExport := kgotk(t, "", "create", "secret", "helm", "charts-auth", "-n", goldenNS, "--export",
		"--username=bot", "--password=s3cret", "--label=team=web")
	for name, r := range map[string]result{
		"create-source-git-export.yaml": gitExport, "create-kustomization-export.yaml": ksExport,
		"create-source-helm-export.yaml": helmExport, "create-source-helm-oci-export.yaml": ociExport,
		"create-source-chart-export.yaml": chartExport, "create-secret-helm-export.yaml": secretExport,
	} {
		if r.code != 0 {
			t.Fatalf("%s:\n%s", name, r)
		}
		golden(t, name, r.stdout)
	}
	var all []*unstructured.Unstructured
	for _, args := range [][]string{{"export", "source", "git", "--all"}, {"export", "kustomization", "--all"}} {
		r := kgotk(t, "", append(args, "-n", goldenNS)...)
		if r.code != 0 {
			t.Fatalf("%v:\n%s", args, r)
		}
		all = append(all, decodeYAML(t, r.stdout)...)
	}
	all = append(all, decodeYAML(t, gitExport.stdout)...)
	all = append(all, decodeYAML(t, ksExport.stdout)...)
	for _, r := range []result{helmExport, ociExport, chartExport, secretExport} {
		all = append(all, decodeYAML(t, r.stdout)...)
	}
	if len(all) != 12 {
		t.Fatalf("exported %d objects, want 12", len(all))
	}
	for _, u := range all {
		for _, f := range []string{"status"} {
			if _, ok := u.Object[f]; ok {
				t.Errorf("%s %s exports %s", u.GetKind(), u.GetName(), f)
			}
		}
		if u.GetUID() != "" || u.GetResourceVersion() != "" || u.GetGeneration() != 0 || !u.GetCreationTimestamp().Time.IsZero() ||
			len(u.GetManagedFields()) > 0 || len(u.GetFinalizers()) > 0 {
			t.Errorf("%s %s exports server fields: %v", u.GetKind(), u.GetName(), u.Object["metadata"])
		}
		for _, a := range droppedAnnotations {
			if _, ok := u.GetAnnotations()[a]; ok {
				t.Errorf("%s %s exports annotation %s", u.GetKind(), u.GetName(), a)
			}
		}
		if err := install.ApplyObject(ctx, e.Client, u, client.DryRunAll); err != nil {
			t.Errorf("the API server refused an export: %v", err)
		}
	}
}
