package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
	"github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// webChart is a chart with a ConfigMap (every test chart's), a Deployment,
// a Secret from values, and two ConfigMaps that values switch on and off.
func webChart(version string) helmserver.Chart {
	return helmserver.Chart{
		Name:    "web",
		Version: version,
		Values:  "greeting: hello\npassword: chart-default\nreplicas: 1\nextra: true\nnewcm: false\n",
		Templates: map[string]string{
			"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`,
			"templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | quote }}
`,
			"templates/extra.yaml": `{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data: {a: b}
{{- end }}
`,
			"templates/labelled.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-keys
data:
  {{- if .Values.extra }}
  x: "1"
  {{- end }}
  y: "2"
`,
			"templates/new.yaml": `{{- if .Values.newcm }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-new
data: {c: d}
{{- end }}
`,
		},
	}
}

// installWeb creates a HelmRepository serving webChart and a HelmRelease
// "web" of it with values from spec.values and a Secret, labelled as
// applied by the Kustomization "apps", and waits until the real helm
// controller installed it.
func installWeb(t *testing.T, ns string) *helmserver.Server {
	t.Helper()
	e := objects(t)
	ctx := ctxFor(t, 3*time.Minute)
	srv := helmserver.Start(t, helmserver.Options{})
	srv.Add(t, webChart("1.0.0"))
	r := kgotk(t, "", "create", "source", "helm", "charts", "--url="+srv.URL, "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create source helm:\n%s", r)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-values", Namespace: ns}, Data: map[string][]byte{"values.yaml": []byte("replicas: 2\n")}}
	gitserver.NoErr(t, e.Client.Create(ctx, sec))
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{
			"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": ns}},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "web", Version: "1.x",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "HelmRepository", Name: "charts"},
			}},
			// No kube-controller-manager here: the Deployment never
			// becomes ready.
			Install:    &helmv2.Install{DisableWait: true},
			Upgrade:    &helmv2.Upgrade{DisableWait: true},
			ValuesFrom: []helmv2.ValuesReference{{Kind: "Secret", Name: "web-values"}},
			Values:     jsonValues(t, map[string]any{"greeting": "from-spec", "password": "s3cret-v1"}),
		},
	}
	gitserver.NoErr(t, e.Client.Create(ctx, hr))
	waitReleased(t, ns, "web", 1)
	return srv
}

func jsonValues(t *testing.T, v map[string]any) *meta.JSON {
	t.Helper()
	data, err := json.Marshal(v)
	gitserver.NoErr(t, err)
	return &meta.JSON{Raw: data}
}

// waitReleased waits until the HelmRelease is Ready for its generation
// with release version in its history.
func waitReleased(t *testing.T, ns, name string, version int) *helmv2.HelmRelease {
	t.Helper()
	e := objects(t)
	hr := &helmv2.HelmRelease{}
	eventually(t, "the release of HelmRelease "+name, func() bool {
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, hr); err != nil {
			return false
		}
		latest := hr.Status.History.Latest()
		return hr.Status.ObservedGeneration == hr.Generation && apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.ReadyCondition) &&
			latest != nil && latest.Version == version
	}, func() string { data, _ := yaml.Marshal(hr.Status); return string(data) })
	return hr
}

// build helmrelease prints the manifest that the controller's upgrade
// stores, with the values of valuesFrom and spec.values and Secrets
// masked; --values stands for spec.values; --chart renders a local chart,
// also for a HelmRelease that does not exist.
func TestBuildHelmReleaseMatchesTheControllersRelease(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	installWeb(t, ns)

	r := kgotk(t, "", "build", "helmrelease", "web", "-n", ns)
	if r.code != 0 {
		t.Fatalf("build helmrelease:\n%s", r)
	}
	if strings.Contains(r.String(), "s3cret-v1") {
		t.Errorf("a secret value was printed:\n%s", r)
	}
	built := byName(t, decodeYAML(t, r.stdout))
	hr := &helmv2.HelmRelease{}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, hr))
	runner, err := helmrelease.NewRenderer(e.Config, e.Client).Runner(ctx, hr)
	gitserver.NoErr(t, err)
	stored, err := runner.Last()
	gitserver.NoErr(t, err)
	want, err := manifestObjects(stored.Manifest, "the stored release")
	gitserver.NoErr(t, err)
	wantByName := map[string]*unstructured.Unstructured{}
	for _, o := range want {
		wantByName[o.GetKind()+"/"+o.GetName()] = maskSecretData(o)
	}
	if len(built) != 5 || len(wantByName) != 5 {
		t.Fatalf("built %d objects, the release has %d:\n%s", len(built), len(wantByName), r.stdout)
	}
	for k, w := range wantByName {
		wantYAML, _ := yaml.Marshal(w.Object)
		var gotYAML []byte
		if got, ok := built[k]; ok {
			gotYAML, _ = yaml.Marshal(got.Object)
		}
		if string(gotYAML) != string(wantYAML) {
			t.Errorf("%s differs from the stored release:\nbuilt:\n%s\nstored:\n%s", k, gotYAML, wantYAML)
		}
	}
	if g, _, _ := unstructured.NestedString(built["ConfigMap/web"].Object, "data", "greeting"); g != "from-spec" {
		t.Errorf("greeting %q, want spec.values' from-spec", g)
	}
	if n, _, _ := unstructured.NestedFieldNoCopy(built["Deployment/web"].Object, "spec", "replicas"); fmt.Sprint(n) != "2" {
		t.Errorf("replicas %v, want valuesFrom's 2", n)
	}
	if p, _, _ := unstructured.NestedString(built["Secret/web-creds"].Object, "stringData", "password"); p != maskedValue {
		t.Errorf("Secret value %q, want it masked", p)
	}

	// --values stands for spec.values; valuesFrom still applies.
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	gitserver.NoErr(t, os.WriteFile(values, []byte("greeting: from-file\n"), 0o600))
	r = kgotk(t, "", "build", "hr", "web", "-n", ns, "--values", values)
	objs := byName(t, decodeYAML(t, r.stdout))
	if r.code != 0 || objs["ConfigMap/web"] == nil {
		t.Fatalf("build --values:\n%s", r)
	}
	if g, _, _ := unstructured.NestedString(objs["ConfigMap/web"].Object, "data", "greeting"); g != "from-file" {
		t.Errorf("--values: greeting %q", g)
	}
	if n, _, _ := unstructured.NestedFieldNoCopy(objs["Deployment/web"].Object, "spec", "replicas"); fmt.Sprint(n) != "2" {
		t.Errorf("--values: replicas %v, want valuesFrom's 2", n)
	}

	// A local chart, for this HelmRelease and for one that does not exist.
	local := webChart("2.0.0")
	local.Templates["templates/local.yaml"] = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}-local\n"
	tgz := helmserver.Package(t, local, dir)
	r = kgotk(t, "", "build", "hr", "web", "-n", ns, "--chart", tgz)
	if r.code != 0 || !byNameHas(t, r.stdout, "ServiceAccount/web-local") {
		t.Fatalf("build --chart:\n%s", r)
	}
	r = kgotk(t, "", "build", "hr", "fresh", "-n", ns, "--chart", tgz, "--values", values)
	objs = byName(t, decodeYAML(t, r.stdout))
	if r.code != 0 || objs["ServiceAccount/fresh-local"] == nil || !strings.Contains(r.stderr, "HelmRelease "+ns+"/fresh not found: rendering") {
		t.Fatalf("build --chart of a HelmRelease that does not exist:\n%s", r)
	}
	if g, _, _ := unstructured.NestedString(objs["ConfigMap/fresh"].Object, "data", "greeting"); g != "from-file" {
		t.Errorf("--chart --values: greeting %q", g)
	}

	// Rendering wrote no release version.
	history, err := runner.History()
	gitserver.NoErr(t, err)
	if len(history) != 1 {
		t.Errorf("the release has %d versions after build, want 1", len(history))
	}

	// Errors name what is wrong.
	r = kgotk(t, "", "build", "hr", "missing", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "HelmRelease missing not found in namespace "+ns) {
		t.Errorf("build of a missing HelmRelease:\n%s", r)
	}
	r = kgotk(t, "", "build", "hr", "web", "-n", ns, "--values", filepath.Join(dir, "nope.yaml"))
	if r.code == 0 || !strings.Contains(r.stderr, "--values "+filepath.Join(dir, "nope.yaml")) {
		t.Errorf("build with a missing values file:\n%s", r)
	}
}

// diff helmrelease: nothing to change right after the install (exit 0,
// silent); after a values change, the changed ConfigMap, the Secret with
// its values masked, a created and a deleted object (exit 1); once the
// controller upgraded, nothing again; errors exit 2.
func TestDiffHelmReleaseAfterAValuesChange(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	installWeb(t, ns)

	r := kgotk(t, "", "diff", "helmrelease", "web", "-n", ns)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("diff right after the install must exit 0 silently:\n%s", r)
	}

	// New values, suspended so that the controller does not upgrade yet.
	hr := &helmv2.HelmRelease{}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, hr))
	hr.Spec.Suspend = true
	hr.Spec.Values = jsonValues(t, map[string]any{"greeting": "changed", "password": "s3cret-v2", "extra": false, "newcm": true})
	gitserver.NoErr(t, e.Client.Update(ctx, hr))
	r = kgotk(t, "", "diff", "hr", "web", "-n", ns)
	if r.code != 1 {
		t.Fatalf("diff after a values change must exit 1:\n%s", r)
	}
	for _, want := range []string{
		"► ConfigMap/" + ns + "/web drifted\n",
		"-  greeting: from-spec\n",
		"+  greeting: changed\n",
		"► Secret/" + ns + "/web-creds drifted\n",
		"► ConfigMap/" + ns + "/web-new created\n",
		// A key the chart no longer sets is removed by the upgrade.
		"► ConfigMap/" + ns + "/web-keys drifted\n",
		"-  x: \"1\"\n",
		"► ConfigMap/" + ns + "/web-extra deleted\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "Deployment/") {
		t.Errorf("the Deployment does not change:\n%s", r)
	}
	for _, secretText := range []string{"s3cret-v1", "s3cret-v2"} {
		if strings.Contains(r.String(), secretText) {
			t.Errorf("a secret value was printed:\n%s", r)
		}
	}
	if !strings.Contains(r.stdout, "*** (after)") {
		t.Errorf("the Secret's changed value is not shown masked:\n%s", r)
	}
	// The diff wrote nothing.
	cm := &corev1.ConfigMap{}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, cm))
	if cm.Data["greeting"] != "from-spec" {
		t.Errorf("the diff changed the ConfigMap: %v", cm.Data)
	}
	runner, err := helmrelease.NewRenderer(e.Config, e.Client).Runner(ctx, hr)
	gitserver.NoErr(t, err)
	if history, err := runner.History(); err != nil || len(history) != 1 {
		t.Errorf("the release has %d versions after diff, want 1 (%v)", len(history), err)
	}
	// The controller applied as the field manager the diff dry-runs as,
	// whatever the binary is called.
	applied := false
	for _, f := range cm.ManagedFields {
		applied = applied || (f.Manager == release.ActionFieldManager && f.Operation == metav1.ManagedFieldsOperationApply)
	}
	if !applied {
		t.Errorf("the ConfigMap was not applied by %s: %+v", release.ActionFieldManager, cm.ManagedFields)
	}

	// The controller's upgrade does what the diff said: nothing is left.
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, hr))
	hr.Spec.Suspend = false
	gitserver.NoErr(t, e.Client.Update(ctx, hr))
	waitReleased(t, ns, "web", 2)
	r = kgotk(t, "", "diff", "hr", "web", "-n", ns)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("diff after the upgrade must exit 0 silently:\n%s", r)
	}

	r = kgotk(t, "", "diff", "hr", "missing", "-n", ns)
	if r.code != 2 || !strings.Contains(r.stderr, "HelmRelease missing not found") {
		t.Errorf("diff of a missing HelmRelease must exit 2:\n%s", r)
	}
}

// tree helmrelease lists the objects of the release from storage, or its
// status.inventory; tree kustomization descends into a HelmRelease; trace
// of a Deployment of the release goes HelmRelease, HelmChart,
// HelmRepository, then the Kustomization that applied the HelmRelease.
func TestTreeAndTraceThroughHelmRelease(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	installWeb(t, ns)

	r := kgotk(t, "", "tree", "helmrelease", "web", "-n", ns)
	wantTree := "HelmRelease/" + ns + "/web\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, wantTree) {
		t.Fatalf("tree helmrelease:\n%s", r)
	}
	for _, want := range []string{"ConfigMap/" + ns + "/web\n", "ConfigMap/" + ns + "/web-keys\n", "Deployment/" + ns + "/web\n", "Secret/" + ns + "/web-creds\n", "ConfigMap/" + ns + "/web-extra\n"} {
		if !strings.Contains(r.stdout, "── "+want) {
			t.Errorf("tree lacks %q:\n%s", want, r)
		}
	}

	// A Kustomization whose inventory holds the HelmRelease shows its
	// objects below it.
	apply := func(doc string) {
		t.Helper()
		u := &unstructured.Unstructured{}
		gitserver.NoErr(t, yaml.Unmarshal([]byte(doc), &u.Object))
		gitserver.NoErr(t, install.ApplyObject(ctx, e.Client, u))
	}
	apply(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: ` + ns + `, labels: {gotk-test/unmanaged: "true"}}
spec: {interval: 1h, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: gone}}
`)
	setStatus(t, kustomizationKind, ns, "apps", map[string]any{
		"conditions": []any{readyCondition("True", "ReconciliationSucceeded", "Applied revision: main@sha1:abc")},
		"inventory": map[string]any{"entries": []any{
			map[string]any{"id": ns + "_web_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"},
		}},
	})
	r = kgotk(t, "", "tree", "kustomization", "apps", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "Kustomization/"+ns+"/apps\n└── HelmRelease/"+ns+"/web\n    ├── ") ||
		!strings.Contains(r.stdout, "    └── Deployment/"+ns+"/web\n") {
		t.Fatalf("tree kustomization through a HelmRelease:\n%s", r)
	}

	// status.inventory, when the HelmRelease has one, is what tree shows.
	apply(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: inv, namespace: ` + ns + `, labels: {gotk-test/unmanaged: "true"}}
spec: {interval: 1h, chart: {spec: {chart: web, sourceRef: {kind: HelmRepository, name: charts}}}}
`)
	setStatus(t, helmReleaseKind, ns, "inv", map[string]any{"inventory": map[string]any{"entries": []any{
		map[string]any{"id": ns + "_inv-only_apps_Deployment", "v": "v1"},
	}}})
	r = kgotk(t, "", "tree", "hr", "inv", "-n", ns, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "inv-only"`) || !strings.Contains(r.stdout, `"kind": "Deployment"`) {
		t.Fatalf("tree helmrelease with an inventory:\n%s", r)
	}

	r = kgotk(t, "", "trace", "deployment", "web", "-n", ns)
	if r.code != 0 {
		t.Fatalf("trace:\n%s", r)
	}
	for _, want := range []string{
		"Object:        Deployment/web\n",
		"---\nHelmRelease:   web\nNamespace:     " + ns + "\nRelease:       " + ns + "/web.v1 (deployed)\nChart:         web\nRevision:      1.0.0\nStatus:        Ready since ",
		"---\nHelmChart:     " + ns + "-web\nNamespace:     " + ns + "\nChart:         web\nVersion:       1.x\nRevision:      1.0.0\nStatus:        Ready since ",
		"---\nHelmRepository: charts\nNamespace:     " + ns + "\nURL:           http://",
		"---\nKustomization: apps\nNamespace:     " + ns + "\nPath:          ./apps\n",
		"---\nGitRepository: gone\nNamespace:     " + ns + "\nStatus:        not found: the Kustomization cannot fetch new revisions\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("trace lacks %q:\n%s", want, r)
		}
	}

	// Up the chain, the error names the object whose owner is gone.
	gitserver.NoErr(t, e.Client.Delete(ctx, newObjectNamed(kustomizationKind, ns, "apps")))
	r = kgotk(t, "", "trace", "deployment", "web", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "HelmRelease "+ns+"/web was applied by Kustomization "+ns+"/apps, which is gone") {
		t.Errorf("trace with the Kustomization gone:\n%s", r)
	}

	// An object of a Helm release that no HelmRelease manages.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-helm", Namespace: ns,
		Labels:      map[string]string{"app.kubernetes.io/managed-by": "Helm"},
		Annotations: map[string]string{"meta.helm.sh/release-name": "manual", "meta.helm.sh/release-namespace": ns}}}
	gitserver.NoErr(t, e.Client.Create(ctx, cm))
	r = kgotk(t, "", "trace", "configmap", "by-helm", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "it belongs to Helm release "+ns+"/manual, which no HelmRelease manages") {
		t.Errorf("trace of an object of a release without HelmRelease:\n%s", r)
	}
}

func newObjectNamed(k gotkKind, ns, name string) *unstructured.Unstructured {
	u := newObject(k)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// byName indexes objects by Kind/name.
func byName(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetName()] = o
	}
	return out
}

func byNameHas(t *testing.T, stream, kindName string) bool {
	t.Helper()
	return byName(t, decodeYAML(t, stream))[kindName] != nil
}

// build and diff of a HelmRelease whose chart has CRDs, with crds:
// CreateReplace, create none: previewing an install or upgrade writes
// nothing, CRDs included.
func TestBuildAndDiffHelmReleaseWriteNoCRDs(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 3*time.Minute)
	ns := e.Namespace(t)
	const crdName = "widgets.preview.gotk.test"
	ch := helmserver.Chart{Name: "crds", Version: "1.0.0", Values: "greeting: hi\n", Files: map[string]string{
		"crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + crdName + `
spec:
  group: preview.gotk.test
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`}}
	tgz := helmserver.Package(t, ch, t.TempDir())
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "crds", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Suspend:  true,
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "crds", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "HelmRepository", Name: "none"},
			}},
			Install: &helmv2.Install{CRDs: helmv2.CreateReplace},
			Upgrade: &helmv2.Upgrade{CRDs: helmv2.CreateReplace},
		},
	}
	gitserver.NoErr(t, e.Client.Create(ctx, hr))
	r := kgotk(t, "", "build", "hr", "crds", "-n", ns, "--chart", tgz)
	if r.code != 0 || !byNameHas(t, r.stdout, "ConfigMap/crds") {
		t.Fatalf("build:\n%s", r)
	}
	r = kgotk(t, "", "diff", "hr", "crds", "-n", ns, "--chart", tgz)
	if r.code != 1 || !strings.Contains(r.stdout, "► ConfigMap/"+ns+"/crds created\n") {
		t.Fatalf("diff:\n%s", r)
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := e.Client.Get(ctx, client.ObjectKey{Name: crdName}, crd); !apierrors.IsNotFound(err) {
		t.Errorf("build or diff created the chart's CRD (err %v)", err)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "crds"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("build or diff created the ConfigMap (err %v)", err)
	}
}
