package ssa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
