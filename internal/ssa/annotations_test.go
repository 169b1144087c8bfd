package ssa

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

func configMap(ns, name string, annotations map[string]string, data map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(ns)
	u.SetName(name)
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	u.Object["data"] = d
	return u
}

// kubectlEdit changes a data value and adds a label and a data key, as
// `kubectl edit` would (field manager "kubectl-edit", an update).
func kubectlEdit(t *testing.T, ns, name string) {
	t.Helper()
	live := get(t, "v1", "ConfigMap", ns, name)
	labels := live.GetLabels()
	labels["added-by"] = "kubectl"
	live.SetLabels(labels)
	_ = unstructured.SetNestedField(live.Object, "edited", "data", "mode")
	_ = unstructured.SetNestedField(live.Object, "extra", "data", "added")
	if err := env.Client.Update(ctxFor(t), live, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
}

func TestApplySSAOverrideRevertsKubectlEdits(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	objs := []*unstructured.Unstructured{configMap(ns, "cm", nil, map[string]string{"mode": "a"})}
	if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectlEdit(t, ns, "cm")
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(cs)["ConfigMap/"+ns+"/cm"]; a != ActionConfigured {
		t.Errorf("action = %s, want configured", a)
	}
	live := get(t, "v1", "ConfigMap", ns, "cm")
	if got := fmt.Sprint(live.Object["data"]); got != "map[mode:a]" {
		t.Errorf("data = %s, want only mode: a", got)
	}
	if _, ok := live.GetLabels()["added-by"]; ok {
		t.Errorf("label added with kubectl survived an Override apply: %v", live.GetLabels())
	}
}

func TestApplySSAMergeKeepsKubectlAdditions(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	objs := []*unstructured.Unstructured{configMap(ns, "cm", map[string]string{kustomizev1.SSAAnnotation: "merge"}, map[string]string{"mode": "a"})}
	if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectlEdit(t, ns, "cm")
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(cs)["ConfigMap/"+ns+"/cm"]; a != ActionConfigured {
		t.Errorf("action = %s, want configured", a)
	}
	live := get(t, "v1", "ConfigMap", ns, "cm")
	if got := fmt.Sprint(live.Object["data"]); got != "map[added:extra mode:a]" {
		t.Errorf("data = %s, want mode: a (ours, restored) and added: extra (kept)", got)
	}
	if live.GetLabels()["added-by"] != "kubectl" {
		t.Errorf("label added with kubectl was removed by a Merge apply: %v", live.GetLabels())
	}
}

func TestApplySSAIfNotPresent(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	objs := []*unstructured.Unstructured{configMap(ns, "cm", map[string]string{kustomizev1.SSAAnnotation: kustomizev1.SSAIfNotPresent}, map[string]string{"mode": "a"})}
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(cs)["ConfigMap/"+ns+"/cm"]; a != ActionCreated {
		t.Fatalf("first apply: action = %s, want created", a)
	}
	live := get(t, "v1", "ConfigMap", ns, "cm")
	_ = unstructured.SetNestedField(live.Object, "changed-in-cluster", "data", "mode")
	if err := env.Client.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	objs[0].Object["data"] = map[string]any{"mode": "b"}
	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(cs)["ConfigMap/"+ns+"/cm"]; a != ActionSkipped {
		t.Errorf("second apply: action = %s, want skipped", a)
	}
	if v, _, _ := unstructured.NestedString(get(t, "v1", "ConfigMap", ns, "cm").Object, "data", "mode"); v != "changed-in-cluster" {
		t.Errorf("mode = %q, IfNotPresent object was updated", v)
	}
}

func TestApplySSAIgnoreAndReconcileDisabled(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	objs := []*unstructured.Unstructured{
		configMap(ns, "ignored", map[string]string{kustomizev1.SSAAnnotation: kustomizev1.SSAIgnore}, map[string]string{"mode": "a"}),
		configMap(ns, "disabled", map[string]string{kustomizev1.ReconcileAnnotation: kustomizev1.DisabledValue}, map[string]string{"mode": "a"}),
		configMap(ns, "live-disabled", nil, map[string]string{"mode": "a"}),
	}
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{"ConfigMap/" + ns + "/ignored": ActionSkipped, "ConfigMap/" + ns + "/disabled": ActionSkipped, "ConfigMap/" + ns + "/live-disabled": ActionCreated}
	for ref, a := range want {
		if got := actions(cs)[ref]; got != a {
			t.Errorf("%s: %s, want %s", ref, got, a)
		}
	}
	for _, name := range []string{"ignored", "disabled"} {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, configMap(ns, name, nil, nil)); !apierrors.IsNotFound(err) {
			t.Errorf("%s was created (get: %v)", name, err)
		}
	}

	// reconcile: disabled set on the live object stops the apply too.
	live := get(t, "v1", "ConfigMap", ns, "live-disabled")
	live.SetAnnotations(map[string]string{kustomizev1.ReconcileAnnotation: kustomizev1.DisabledValue})
	_ = unstructured.SetNestedField(live.Object, "edited", "data", "mode")
	if err := env.Client.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	cs, err = m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["ConfigMap/"+ns+"/live-disabled"]; got != ActionSkipped {
		t.Errorf("live-disabled: %s, want skipped", got)
	}
	if v, _, _ := unstructured.NestedString(get(t, "v1", "ConfigMap", ns, "live-disabled").Object, "data", "mode"); v != "edited" {
		t.Errorf("mode = %q, the disabled object was applied", v)
	}
}

func TestApplyInvalidSSAValue(t *testing.T) {
	m, _ := newManager(t)
	ns := env.Namespace(t)
	_, err := m.Apply(ctxFor(t), []*unstructured.Unstructured{configMap(ns, "cm", map[string]string{kustomizev1.SSAAnnotation: "Sometimes"}, nil)}, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/cm") || !strings.Contains(err.Error(), "Sometimes") {
		t.Fatalf("err = %v, want it to name the object and the bad value", err)
	}
}

func job(ns, image string, annotations string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: %s
  annotations: {%s}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: %s}]
`, ns, annotations, image)
}

func TestApplyForceRecreatesOnImmutableChange(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, counter := newManager(t)
	if _, err := m.Apply(ctx, objects(t, job(ns, "migrate:1", "")), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	uid := get(t, "batch/v1", "Job", ns, "migrate").GetUID()

	// Without force, the immutable template stops the apply.
	counter.reset()
	_, err := m.Apply(ctx, objects(t, job(ns, "migrate:2", "")), ApplyOptions{})
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "Job/"+ns+"/migrate") || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("err = %v, want a validation error naming the Job and the immutable field", err)
	}
	if counter.counts["PATCH"]+counter.counts["DELETE"]+counter.counts["POST"] != 0 {
		t.Errorf("writes sent without force: %s", counter)
	}

	t.Logf("without force: %v", err)

	// The force annotation recreates it.
	cs, err := m.Apply(ctx, objects(t, job(ns, "migrate:2", kustomizev1.ForceAnnotation+": Enabled")), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["Job/"+ns+"/migrate"]; got != ActionCreated {
		t.Errorf("action = %s, want created", got)
	}
	live := get(t, "batch/v1", "Job", ns, "migrate")
	containers, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	if live.GetUID() == uid || containers[0].(map[string]any)["image"] != "migrate:2" {
		t.Errorf("job not recreated: uid %s (was %s), containers %v", live.GetUID(), uid, containers)
	}

	// spec.force does the same for every object.
	cs, err = m.Apply(ctx, objects(t, job(ns, "migrate:3", "")), ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["Job/"+ns+"/migrate"]; got != ActionCreated {
		t.Errorf("action with spec.force = %s, want created", got)
	}
}

func TestApplyForceDoesNotDeleteAnInvalidObject(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	if _, err := m.Apply(ctx, objects(t, job(ns, "migrate:1", "")), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// An image that no create accepts: recreating would only lose the Job.
	_, err := m.Apply(ctx, objects(t, job(ns, `""`, "")), ApplyOptions{Force: true})
	if err == nil {
		t.Fatal("apply of an invalid Job succeeded")
	}
	get(t, "batch/v1", "Job", ns, "migrate")
}

func TestApplyIgnoreRulesKeepClusterValues(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	rules := []meta.IgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &meta.Selector{Kind: "Deployment", Name: "w.*"}}}
	objs := objects(t, deployment(ns, "web", "nginx:1.27"))
	// A new object is created with the desired value.
	if _, err := m.Apply(ctx, objs, ApplyOptions{Ignore: rules}); err != nil {
		t.Fatal(err)
	}
	replicas := func() int64 {
		v, _, _ := unstructured.NestedInt64(get(t, "apps/v1", "Deployment", ns, "web").Object, "spec", "replicas")
		return v
	}
	if r := replicas(); r != 2 {
		t.Fatalf("replicas = %d, want 2 at creation", r)
	}

	// An autoscaler changes it; Git changes it too.
	live := get(t, "apps/v1", "Deployment", ns, "web")
	_ = unstructured.SetNestedField(live.Object, int64(5), "spec", "replicas")
	if err := env.Client.Update(ctx, live, client.FieldOwner("autoscaler")); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(objs[0].Object, int64(3), "spec", "replicas")
	if _, err := m.Apply(ctx, objs, ApplyOptions{Ignore: rules}); err != nil {
		t.Fatal(err)
	}
	if r := replicas(); r != 5 {
		t.Errorf("replicas = %d, want the cluster's 5 kept", r)
	}

	// Even a field that only we own keeps its cluster value.
	_ = unstructured.SetNestedField(objs[0].Object, int64(7), "spec", "replicas")
	if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(objs[0].Object, int64(1), "spec", "replicas")
	if _, err := m.Apply(ctx, objs, ApplyOptions{Ignore: rules}); err != nil {
		t.Fatal(err)
	}
	if r := replicas(); r != 7 {
		t.Errorf("replicas = %d, want 7 kept", r)
	}

	// Without the rule, Git wins again.
	if _, err := m.Apply(ctx, objs, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := replicas(); r != 1 {
		t.Errorf("replicas = %d, want 1 without the rule", r)
	}
}
