package ssa

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

func TestApplyClassifiesCreatedConfiguredUnchanged(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	docs := func(value string) []*unstructured.Unstructured {
		return objects(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %[1]s}
data: {mode: %[2]s}
---
%[3]s`, ns, value, deployment(ns, "web", "nginx:1.27")))
	}

	cs, err := m.Apply(ctx, docs("a"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{"ConfigMap/" + ns + "/settings": ActionCreated, "Deployment/" + ns + "/web": ActionCreated}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("first apply (-want +got):\n%s", diff)
	}
	cm := get(t, "v1", "ConfigMap", ns, "settings")
	if cm.GetLabels()[kustomizev1.NameLabel] != "apps" || cm.GetLabels()[kustomizev1.NamespaceLabel] != "flux-system" {
		t.Errorf("owner labels missing: %v", cm.GetLabels())
	}

	// A fresh cache forces the dry-run comparison: nothing differs.
	m.Cache = NewCache()
	cs, err = m.Apply(ctx, docs("a"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Action{"ConfigMap/" + ns + "/settings": ActionUnchanged, "Deployment/" + ns + "/web": ActionUnchanged}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("second apply with an empty cache (-want +got):\n%s", diff)
	}
	if cs.Changed() || cs.String() != "" {
		t.Errorf("unchanged apply reports changes: %q", cs.String())
	}

	cs, err = m.Apply(ctx, docs("b"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Action{"ConfigMap/" + ns + "/settings": ActionConfigured, "Deployment/" + ns + "/web": ActionUnchanged}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("apply of a change (-want +got):\n%s", diff)
	}
	if got, want := cs.String(), "ConfigMap/"+ns+"/settings configured"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := get(t, "v1", "ConfigMap", ns, "settings").Object["data"]; fmt.Sprint(got) != "map[mode:b]" {
		t.Errorf("data = %v, want mode: b", got)
	}
}

func TestApplyRestoresDrift(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, counter := newManager(t)
	objs := objects(t, deployment(ns, "web", "nginx:1.27"))
	if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	// Someone edits the image by hand.
	live := get(t, "apps/v1", "Deployment", ns, "web")
	containers, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "nginx:hacked"
	_ = unstructured.SetNestedSlice(live.Object, containers, "spec", "template", "spec", "containers")
	if err := env.Client.Update(ctx, live, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}

	counter.reset()
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["Deployment/"+ns+"/web"]; got != ActionConfigured {
		t.Errorf("action = %s, want configured", got)
	}
	live = get(t, "apps/v1", "Deployment", ns, "web")
	containers, _, _ = unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "nginx:1.27" {
		t.Errorf("image = %v, want nginx:1.27 restored", img)
	}
	t.Logf("drift correction requests: %s", counter)
}

func TestApplyUnchangedMakesNoWrites(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, counter := newManager(t)
	objs := objects(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %[1]s}
data: {mode: a}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: %[1]s}
stringData: {token: s3cr3t}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[1]s-reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
%[2]s`, ns, deployment(ns, "web", "nginx:1.27")))
	t.Cleanup(func() {
		cr := &unstructured.Unstructured{}
		cr.SetAPIVersion("rbac.authorization.k8s.io/v1")
		cr.SetKind("ClusterRole")
		cr.SetName(ns + "-reader")
		_ = env.Client.Delete(context.Background(), cr)
	})
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Counts()[ActionCreated]; n != len(objs) {
		t.Fatalf("created %d objects, want %d: %v", n, len(objs), cs.Entries)
	}
	t.Logf("cold apply of %d objects: %s", len(objs), counter)

	counter.reset()
	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Counts()[ActionUnchanged]; n != len(objs) {
		t.Fatalf("unchanged %d objects, want %d: %v", n, len(objs), cs.Entries)
	}
	if w := counter.writes(); w != 0 {
		t.Errorf("second apply sent %d write requests, want 0: %s", w, counter)
	}
	t.Logf("unchanged apply of %d objects: %s", len(objs), counter)

	// After a restart the cache is empty: the dry-runs find nothing to
	// change (server defaults, a Service's allocated IP, a Secret's
	// stringData turned into data), so nothing is written.
	m.Cache = NewCache()
	counter.reset()
	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Counts()[ActionUnchanged]; n != len(objs) {
		t.Fatalf("after a restart: unchanged %d objects, want %d: %v", n, len(objs), cs.Entries)
	}
	if w := counter.writes() - counter.dryRuns(); w != 0 {
		t.Errorf("apply after a restart sent %d writes, want 0: %s", w, counter)
	}
	t.Logf("apply of %d unchanged objects with an empty cache: %s", len(objs), counter)
}

func TestApplyCRDAndCustomResourceTogether(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	group := randName("w") + ".test.gotk.dev"
	m, _ := newManager(t)
	// The custom resource comes first in the input: staging must reorder.
	objs := objects(t, fmt.Sprintf(`apiVersion: %[1]s/v1
kind: Widget
metadata: {name: blue, namespace: %[2]s}
spec: {color: blue}
---
%[3]s`, group, ns, widgetCRD(group)))
	t.Cleanup(func() { deleteCRD(t, "widgets."+group) })

	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Ref: ObjectRef{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "widgets." + group}, Action: ActionCreated},
		{Ref: ObjectRef{Group: group, Version: "v1", Kind: "Widget", Namespace: ns, Name: "blue"}, Action: ActionCreated},
	}
	if diff := cmp.Diff(want, cs.Entries); diff != "" {
		t.Fatalf("change set (-want +got):\n%s", diff)
	}
	w := get(t, group+"/v1", "Widget", ns, "blue")
	if c, _, _ := unstructured.NestedString(w.Object, "spec", "color"); c != "blue" {
		t.Errorf("spec.color = %q", c)
	}

	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Counts()[ActionUnchanged] != 2 {
		t.Errorf("second apply: %v", cs.Entries)
	}
}

func deleteCRD(t testing.TB, name string) {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName(name)
	_ = env.Client.Delete(context.Background(), crd)
}

func TestApplyNamespaceAndItsObjects(t *testing.T) {
	ctx := ctxFor(t)
	ns := randName("ssa-ns-")
	m, _ := newManager(t)
	t.Cleanup(func() {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(ns)
		_ = env.Client.Delete(context.Background(), u)
	})
	objs := objects(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %[1]s}
data: {mode: a}
---
%[2]s
---
apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
`, ns, deployment(ns, "web", "nginx:1.27")))
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cs.String(), fmt.Sprintf("Namespace/%[1]s created, ConfigMap/%[1]s/settings created, Deployment/%[1]s/web created", ns); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	get(t, "v1", "ConfigMap", ns, "settings")
	get(t, "apps/v1", "Deployment", ns, "web")
}

func TestApplyValidationFailureWritesNothing(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	newNS := randName("ssa-never-")
	m, counter := newManager(t)
	objs := objects(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[2]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: %[1]s}
data: {mode: a}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Secret
metadata: {name: good, namespace: %[1]s}
stringData: {token: x}
`, ns, newNS))
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	if cs != nil && cs.Changed() {
		t.Errorf("change set of a failed validation: %v", cs)
	}
	if len(verr.Failures) != 1 || verr.Failures[0].Ref.String() != "Deployment/"+ns+"/bad" {
		t.Fatalf("failures = %v, want only Deployment/%s/bad", verr.Failures, ns)
	}
	msg := err.Error()
	if !strings.Contains(msg, "Deployment/"+ns+"/bad") || !strings.Contains(msg, "does not match template") {
		t.Errorf("error does not name the object and the API server's reason: %s", msg)
	}
	t.Logf("error: %s", msg)
	for _, o := range []struct{ apiVersion, kind, ns, name string }{
		{"v1", "Namespace", "", newNS}, {"v1", "ConfigMap", ns, "good"}, {"v1", "Secret", ns, "good"},
	} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(o.apiVersion)
		u.SetKind(o.kind)
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: o.ns, Name: o.name}, u); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s was written (get: %v)", o.kind, o.name, err)
		}
	}
	counter.mu.Lock()
	for verb, n := range counter.counts {
		if verb == "PATCH" || verb == "POST" || verb == "PUT" || verb == "DELETE" {
			t.Errorf("%d %s requests sent by a failed validation", n, verb)
		}
	}
	counter.mu.Unlock()
}

func TestApplyUnknownKindFails(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	_, err := m.Apply(ctx, objects(t, fmt.Sprintf(`apiVersion: nowhere.gotk.dev/v1
kind: Gadget
metadata: {name: g, namespace: %s}
`, ns)), ApplyOptions{})
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "Gadget/"+ns+"/g") {
		t.Fatalf("err = %v, want a validation error naming Gadget/%s/g", err, ns)
	}
}

func TestApplyNamespacedObjectWithoutNamespace(t *testing.T) {
	m, _ := newManager(t)
	_, err := m.Apply(ctxFor(t), objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lost}\n"), ApplyOptions{})
	if !errors.Is(err, errNamespaceMissing) || !strings.Contains(err.Error(), "ConfigMap/lost") {
		t.Fatalf("err = %v, want namespace not specified for ConfigMap/lost", err)
	}
}

// TestApplyLearnsExistenceFromTheDryRun applies with an empty cache, so
// that nothing is listed: each object's dry-run says whether it exists,
// and only the objects that exist are read.
func TestApplyLearnsExistenceFromTheDryRun(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	for _, o := range []*unstructured.Unstructured{
		configMap(ns, "existing", nil, map[string]string{"mode": "old"}),
		configMap(ns, "live-disabled", map[string]string{kustomizev1.ReconcileAnnotation: kustomizev1.DisabledValue}, map[string]string{"mode": "old"}),
		configMap(ns, "keep", nil, map[string]string{"mode": "old"}),
	} {
		if err := env.Client.Create(ctx, o, client.FieldOwner("someone")); err != nil {
			t.Fatal(err)
		}
	}
	objs := []*unstructured.Unstructured{
		configMap(ns, "new", nil, map[string]string{"mode": "new"}),
		configMap(ns, "existing", nil, map[string]string{"mode": "new"}),
		configMap(ns, "live-disabled", nil, map[string]string{"mode": "new"}),
		configMap(ns, "keep", map[string]string{kustomizev1.SSAAnnotation: kustomizev1.SSAIfNotPresent}, map[string]string{"mode": "new"}),
	}
	m, counter := newManager(t)
	if _, err := m.Client.RESTMapper().RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1"); err != nil {
		t.Fatal(err)
	}
	counter.reset() // the discovery of the client's mapper
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"ConfigMap/" + ns + "/new":           ActionCreated,
		"ConfigMap/" + ns + "/existing":      ActionConfigured,
		"ConfigMap/" + ns + "/live-disabled": ActionSkipped,
		"ConfigMap/" + ns + "/keep":          ActionSkipped,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("apply with an empty cache (-want +got):\n%s", diff)
	}
	for name, mode := range map[string]string{"new": "new", "existing": "new", "live-disabled": "old", "keep": "old"} {
		if got, _, _ := unstructured.NestedString(get(t, "v1", "ConfigMap", ns, name).Object, "data", "mode"); got != mode {
			t.Errorf("%s: mode = %q, want %q", name, got, mode)
		}
	}
	// The largest object, keep, is read instead of dry-run (see
	// pickUnchecked), found, and skipped; the others are dry-run, and the
	// two of them that exist are read; new and existing are written.
	wantCounts := map[string]int{"PATCH(dry-run)": 3, "GET": 3, "PATCH": 2}
	if diff := cmp.Diff(wantCounts, counter.counts); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// Now the cache knows them: one List proves them unchanged.
	counter.reset()
	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want["ConfigMap/"+ns+"/new"], want["ConfigMap/"+ns+"/existing"] = ActionUnchanged, ActionUnchanged
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("second apply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"GET": 1}, counter.counts); diff != "" {
		t.Errorf("requests of the second apply (-want +got):\n%s", diff)
	}
}

// TestApplyValidatesOneNewObjectByItsWrite checks that the one object of
// an apply that is not dry-run (the largest to create) is written only
// after the others passed their dry-runs, and first, so that a rejection
// of any object still writes nothing.
func TestApplyValidatesOneNewObjectByItsWrite(t *testing.T) {
	ctx := ctxFor(t)
	badDeployment := func(ns string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: app, image: nginx}]
`, ns)
	}
	good := func(ns string) *unstructured.Unstructured {
		return configMap(ns, "settings", nil, map[string]string{"mode": "a"})
	}
	bad := func(ns string) *unstructured.Unstructured {
		return configMap(ns, "settings", nil, map[string]string{"not a key": "a"})
	}
	absent := func(ns string) {
		t.Helper()
		for _, u := range []*unstructured.Unstructured{good(ns), objects(t, deployment(ns, "web", "nginx"))[0]} {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); !apierrors.IsNotFound(err) {
				t.Errorf("%s was written (get: %v)", RefOf(u), err)
			}
		}
	}
	failed := func(err error) []string {
		t.Helper()
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("err = %v, want a *ValidationError", err)
		}
		var refs []string
		for _, f := range verr.Failures {
			refs = append(refs, f.Ref.Kind)
		}
		sort.Strings(refs)
		return refs
	}

	t.Run("valid", func(t *testing.T) {
		ns := env.Namespace(t)
		m, counter := newManager(t)
		objs := []*unstructured.Unstructured{good(ns), objects(t, deployment(ns, "web", "nginx"))[0]}
		if _, err := m.Client.RESTMapper().RESTMappings(schema.GroupKind{Group: "apps", Kind: "Deployment"}); err != nil {
			t.Fatal(err)
		}
		counter.reset()
		cs, err := m.Apply(ctx, objs, ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Action{"ConfigMap/" + ns + "/settings": ActionCreated, "Deployment/" + ns + "/web": ActionCreated}
		if diff := cmp.Diff(want, actions(cs)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		// The ConfigMap is dry-run; the Deployment, larger, is read.
		if diff := cmp.Diff(map[string]int{"PATCH(dry-run)": 1, "GET": 1, "PATCH": 2}, counter.counts); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("the written one is invalid", func(t *testing.T) {
		ns := env.Namespace(t)
		m, _ := newManager(t)
		_, err := m.Apply(ctx, append([]*unstructured.Unstructured{good(ns)}, objects(t, badDeployment(ns))...), ApplyOptions{})
		if diff := cmp.Diff([]string{"Deployment"}, failed(err)); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		if !strings.Contains(err.Error(), "nothing was applied") || !strings.Contains(err.Error(), "does not match template") {
			t.Errorf("error: %v", err)
		}
		absent(ns)
	})
	t.Run("a dry-run one is invalid", func(t *testing.T) {
		ns := env.Namespace(t)
		m, counter := newManager(t)
		_, err := m.Apply(ctx, append([]*unstructured.Unstructured{bad(ns)}, objects(t, deployment(ns, "web", "nginx"))...), ApplyOptions{})
		if diff := cmp.Diff([]string{"ConfigMap"}, failed(err)); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		absent(ns)
		if n := counter.counts["PATCH"]; n != 0 {
			t.Errorf("%d writes sent by a failed validation", n)
		}
	})
	t.Run("both are invalid", func(t *testing.T) {
		ns := env.Namespace(t)
		m, counter := newManager(t)
		_, err := m.Apply(ctx, append([]*unstructured.Unstructured{bad(ns)}, objects(t, badDeployment(ns))...), ApplyOptions{})
		if diff := cmp.Diff([]string{"ConfigMap", "Deployment"}, failed(err)); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		absent(ns)
		if n := counter.counts["PATCH"]; n != 0 {
			t.Errorf("%d writes sent by a failed validation", n)
		}
	})
}
