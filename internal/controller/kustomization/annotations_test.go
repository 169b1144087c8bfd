package kustomization

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// annotatedCM is a ConfigMap manifest with one annotation (none when key
// is empty) and data {value: v}.
func annotatedCM(ns, name, key, val, v string) string {
	ann := ""
	if key != "" {
		ann = fmt.Sprintf("  annotations:\n    %s: %s\n", key, val)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n%sdata:\n  value: %q\n", name, ns, ann, v)
}

// kubectlAdd adds data[extra] to a ConfigMap the way `kubectl edit` does:
// an update under the field manager kubectl-edit.
func kubectlAdd(t *testing.T, ns, name string) {
	t.Helper()
	cm, err := getCM(t, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["extra"] = "by kubectl"
	if err := env.Client.Update(context.Background(), cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
}

// The per-object annotations, through the controller: Override takes back
// what kubectl added, Merge keeps it, IfNotPresent only creates, Ignore and
// reconcile: disabled leave the object alone, prune: disabled keeps an
// object that left Git.
func TestSSAAnnotations(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	files := func(v string) map[string]string {
		return map[string]string{
			"deploy/override.yaml":  annotatedCM(ns, "override", "", "", v),
			"deploy/merge.yaml":     annotatedCM(ns, "merge", kustomizev1.SSAAnnotation, kustomizev1.SSAMerge, v),
			"deploy/ifnp.yaml":      annotatedCM(ns, "ifnp", kustomizev1.SSAAnnotation, kustomizev1.SSAIfNotPresent, v),
			"deploy/ignored.yaml":   annotatedCM(ns, "ignored", kustomizev1.SSAAnnotation, kustomizev1.SSAIgnore, v),
			"deploy/disabled.yaml":  annotatedCM(ns, "disabled", kustomizev1.ReconcileAnnotation, kustomizev1.DisabledValue, v),
			"deploy/paused.yaml":    annotatedCM(ns, "paused", "", "", v),
			"deploy/keep.yaml":      annotatedCM(ns, "keep", kustomizev1.PruneAnnotation, kustomizev1.DisabledValue, v),
			"deploy/transient.yaml": annotatedCM(ns, "transient", "", "", v),
		}
	}
	// Two objects exist before the Kustomization: one whose manifest says
	// reconcile: disabled, one that a person marked so in the cluster.
	create(t,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "disabled", Namespace: ns}, Data: map[string]string{"value": "by hand"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "paused", Namespace: ns,
			Annotations: map[string]string{kustomizev1.ReconcileAnnotation: kustomizev1.DisabledValue}}, Data: map[string]string{"value": "by hand"}},
	)
	r := newRepo(t, ns, files("1"))
	key := newKustomization(t, ns, "app", "./deploy", nil)
	appliedAt(t, key, r.head())

	for name, want := range map[string]string{"override": "1", "merge": "1", "ifnp": "1", "keep": "1", "transient": "1", "disabled": "by hand", "paused": "by hand"} {
		if got, ok := cmValue(t, ns, name, "value"); !ok || got != want {
			t.Errorf("after the first apply %s has value %q (exists %v), want %q", name, got, ok, want)
		}
	}
	if _, ok := cmValue(t, ns, "ignored", "value"); ok {
		t.Error("ssa: Ignore object was created")
	}

	for _, name := range []string{"override", "merge", "ifnp"} {
		kubectlAdd(t, ns, name)
	}
	next := files("2")
	next["deploy/keep.yaml"] = ""
	next["deploy/transient.yaml"] = ""
	rev := r.push(next)
	ks := appliedAt(t, key, rev)

	check := func(name, wantValue string, wantExtra bool) {
		t.Helper()
		cm, err := getCM(t, ns, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cm.Data["value"] != wantValue {
			t.Errorf("%s: value %q, want %q", name, cm.Data["value"], wantValue)
		}
		if _, has := cm.Data["extra"]; has != wantExtra {
			t.Errorf("%s: kubectl's key present %v, want %v", name, has, wantExtra)
		}
	}
	check("override", "2", false)
	check("merge", "2", true)
	check("ifnp", "1", true)
	check("disabled", "by hand", false)
	check("paused", "by hand", false)
	check("keep", "1", false)
	if _, ok := cmValue(t, ns, "transient", "value"); ok {
		t.Error("transient was not pruned")
	}
	for _, e := range ks.Status.Inventory.Entries {
		if e.ID == meta.ResourceID(ns, "keep", "", "ConfigMap") {
			t.Errorf("keep is still in the inventory after it left Git: %+v", ks.Status.Inventory.Entries)
		}
	}
}

func jobManifest(ns, image string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: %s
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: %s
`, ns, image)
}

// A change to an immutable field (a Job's template) fails with a message
// that says how to proceed, and changes nothing; with spec.force the Job
// is deleted and created again.
func TestForceRecreatesImmutableObject(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/job.yaml": jobManifest(ns, "busybox:1.36")})
	key := newKustomization(t, ns, "app", "./deploy", nil)
	appliedAt(t, key, r.head())
	before := getObject(t, env.Client, "batch/v1", "Job", ns, "migrate")

	rev := r.push(map[string]string{"deploy/job.yaml": jobManifest(ns, "busybox:1.37")})
	ks := waitKs(t, key, "failed at "+rev, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastAttemptedRevision == rev && runtime.IsFalse(k, meta.ReadyCondition)
	})
	t.Logf("message: %s", readyMessage(ks))
	wantContains(t, "Ready message", readyMessage(ks), "Job/"+ns+"/migrate", "immutable", kustomizev1.ForceAnnotation, "spec.force")
	if got := getObject(t, env.Client, "batch/v1", "Job", ns, "migrate"); got.GetUID() != before.GetUID() {
		t.Fatal("the Job was recreated without force")
	}

	updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.Force = true })
	appliedAt(t, key, rev)
	after := getObject(t, env.Client, "batch/v1", "Job", ns, "migrate")
	if after.GetUID() == before.GetUID() {
		t.Error("the Job was not recreated")
	}
	containers, _, _ := unstructured.NestedSlice(after.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 || containers[0].(map[string]any)["image"] != "busybox:1.37" {
		t.Errorf("containers after force: %v", containers)
	}
}
