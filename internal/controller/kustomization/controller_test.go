package kustomization

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

func configMap(ns, name, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\ndata:\n  value: " + value + "\n"
}

func getCM(t *testing.T, ns, name string) (*corev1.ConfigMap, error) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm)
	return cm, err
}

// The GitOps loop: create, update, prune, drift correction; a broken
// revision changes nothing and prunes nothing.
func TestApplyUpdatePruneAndFailSafe(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"deploy/a.yaml": configMap(ns, "a", "one"),
		"deploy/b.yaml": configMap(ns, "b", "one"),
	})
	key := newKustomization(t, ns, "app", "./deploy", nil)
	ks := appliedAt(t, key, r.head())
	if n := len(ks.Status.Inventory.Entries); n != 2 {
		t.Fatalf("inventory has %d entries, want 2: %+v", n, ks.Status.Inventory)
	}
	a, err := getCM(t, ns, "a")
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels[kustomizev1.NameLabel] != "app" || a.Labels[kustomizev1.NamespaceLabel] != ns {
		t.Errorf("owner labels: %v", a.Labels)
	}

	// Update a, remove b: a is configured, b pruned.
	rev := r.push(map[string]string{"deploy/a.yaml": configMap(ns, "a", "two"), "deploy/b.yaml": ""})
	appliedAt(t, key, rev)
	if a, _ = getCM(t, ns, "a"); a.Data["value"] != "two" {
		t.Errorf("a not updated: %v", a.Data)
	}
	if _, err := getCM(t, ns, "b"); !apierrors.IsNotFound(err) {
		t.Errorf("b not pruned: %v", err)
	}

	// Drift: a hand edit is restored by the next reconcile.
	a.Data["value"] = "by hand"
	if err := env.Client.Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	requestReconcile(t, key)
	waitKs(t, key, "handled request", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt != "" && k.Status.LastHandledReconcileAt == k.Annotations[meta.ReconcileRequestAnnotation] && runtime.IsReady(k)
	})
	if a, _ = getCM(t, ns, "a"); a.Data["value"] != "two" {
		t.Errorf("drift not corrected: %v", a.Data)
	}

	// Invalid YAML: nothing written, nothing pruned, the message names the file.
	bad := r.push(map[string]string{"deploy/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [broken\n"})
	ks = failedWith(t, key, meta.BuildFailedReason)
	if msg := runtime.Message(ks, meta.ReadyCondition); !strings.Contains(msg, "a.yaml") {
		t.Errorf("message does not name the file: %s", msg)
	}
	if ks.Status.LastAttemptedRevision != bad || ks.Status.LastAppliedRevision != rev {
		t.Errorf("revisions: attempted %s applied %s", ks.Status.LastAttemptedRevision, ks.Status.LastAppliedRevision)
	}
	if a, err = getCM(t, ns, "a"); err != nil || a.Data["value"] != "two" {
		t.Errorf("a changed or lost after a failed build: %v %v", a.Data, err)
	}
}

func requestReconcile(t *testing.T, key client.ObjectKey) {
	t.Helper()
	k := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), key, k); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(k.DeepCopy())
	if k.Annotations == nil {
		k.Annotations = map[string]string{}
	}
	k.Annotations[meta.ReconcileRequestAnnotation] = k.ResourceVersion
	if err := env.Client.Patch(context.Background(), k, patch); err != nil {
		t.Fatal(err)
	}
}

// A Kustomization waits for the one it depends on.
func TestDependsOn(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"first/a.yaml":  configMap(ns, "first", "x"),
		"second/b.yaml": configMap(ns, "second", "x"),
	})
	second := newKustomization(t, ns, "second", "./second", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "first"}}
	})
	ks := failedWith(t, second, meta.DependencyNotReadyReason)
	if msg := runtime.Message(ks, meta.ReadyCondition); !strings.Contains(msg, "first") {
		t.Errorf("message: %s", msg)
	}
	if _, err := getCM(t, ns, "second"); !apierrors.IsNotFound(err) {
		t.Fatalf("second applied before its dependency: %v", err)
	}
	newKustomization(t, ns, "first", "./first", nil)
	appliedAt(t, second, r.head())
}

// A Kustomization waits for a HelmRelease it depends on (kind:
// HelmRelease) until that is Ready for its generation. The HelmRelease's
// status is written here as the helm controller would, since none runs in
// this test.
func TestDependsOnHelmRelease(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"app/a.yaml": configMap(ns, "app", "x")})
	key := newKustomization(t, ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []meta.DependencyReference{{Kind: helmv2.HelmReleaseKind, Name: "db"}}
	})
	ks := failedWith(t, key, meta.DependencyNotReadyReason)
	wantContains(t, "Ready message", runtime.Message(ks, meta.ReadyCondition), "dependency HelmRelease '"+ns+"/db' not found")

	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: "HelmChart", Name: "db"}},
	}
	create(t, hr)
	eventually(t, "Kustomization waits for the HelmRelease to be ready", func() bool {
		k := &kustomizev1.Kustomization{}
		return env.Client.Get(context.Background(), key, k) == nil &&
			strings.Contains(runtime.Message(k, meta.ReadyCondition), "dependency HelmRelease '"+ns+"/db' is not ready")
	})
	if _, err := getCM(t, ns, "app"); !apierrors.IsNotFound(err) {
		t.Fatalf("applied before the HelmRelease was ready: %v", err)
	}
	runtime.MarkReady(hr, "InstallSucceeded", "Helm install succeeded")
	hr.Status.ObservedGeneration = hr.Generation
	if err := env.Client.Status().Update(context.Background(), hr); err != nil {
		t.Fatal(err)
	}
	appliedAt(t, key, r.head())
}
