package kustomization

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// spec.deletionPolicy decides what deleting a Kustomization does to the
// objects it applied: Delete and WaitForTermination delete them, Orphan
// keeps them, MirrorPrune follows spec.prune.
func TestDeletionPolicy(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	cases := []struct {
		name, policy string
		prune, kept  bool
	}{
		{"delete", kustomizev1.DeletionPolicyDelete, false, false},
		{"wait", kustomizev1.DeletionPolicyWaitForTermination, false, false},
		{"orphan", kustomizev1.DeletionPolicyOrphan, true, true},
		{"mirror-prune", kustomizev1.DeletionPolicyMirrorPrune, true, false},
		{"mirror-keep", kustomizev1.DeletionPolicyMirrorPrune, false, true},
		{"default-prune", "", true, false},
	}
	files := map[string]string{}
	for _, c := range cases {
		files[c.name+"/cm.yaml"] = configMap(ns, "cm-"+c.name, "x")
	}
	r := newRepo(t, ns, files)
	for _, c := range cases {
		key := newKustomization(t, ns, c.name, "./"+c.name, func(k *kustomizev1.Kustomization) {
			k.Spec.DeletionPolicy = c.policy
			k.Spec.Prune = c.prune
		})
		appliedAt(t, key, r.head())
	}
	ctx := context.Background()
	for _, c := range cases {
		if err := env.Client.Delete(ctx, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		eventually(t, "Kustomization "+c.name+" gone", func() bool {
			return apierrors.IsNotFound(env.Client.Get(ctx, clientKey(ns, c.name), &kustomizev1.Kustomization{}))
		})
		if _, exists := cmValue(t, ns, "cm-"+c.name, "value"); exists != c.kept {
			t.Errorf("%s (policy %q, prune %v): ConfigMap exists %v, want %v", c.name, c.policy, c.prune, exists, c.kept)
		}
	}
}

// An event per reconcile that changed something, with the change set;
// none for a reconcile that changed nothing.
func TestEvents(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"deploy/a.yaml": configMap(ns, "a", "one"),
		"deploy/b.yaml": configMap(ns, "b", "one"),
	})
	key := newKustomization(t, ns, "app", "./deploy", nil)
	first := r.head()
	appliedAt(t, key, first)
	eventually(t, "the first event", func() bool { return len(events.of(ns, "app")) >= 1 })

	// Nothing new: the reconcile is quiet.
	requestReconcile(t, key)
	waitKs(t, key, "handled request", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == k.Annotations[meta.ReconcileRequestAnnotation] && runtime.IsReady(k)
	})

	second := r.push(map[string]string{"deploy/a.yaml": configMap(ns, "a", "two"), "deploy/b.yaml": ""})
	appliedAt(t, key, second)
	eventually(t, "the second event", func() bool { return len(events.of(ns, "app")) >= 2 })

	// Events are posted in order, so one from the quiet reconcile would
	// sit between these two.
	got := events.of(ns, "app")
	if len(got) != 2 {
		for _, ev := range got {
			t.Logf("event: %s %s", ev.Reason, ev.Message)
		}
		t.Fatalf("%d events, want 2 (one per revision, none for the reconcile that changed nothing)", len(got))
	}
	for i, want := range []struct {
		revision string
		message  []string
	}{
		{first, []string{"ConfigMap/" + ns + "/a created", "ConfigMap/" + ns + "/b created"}},
		{second, []string{"ConfigMap/" + ns + "/a configured", "ConfigMap/" + ns + "/b pruned"}},
	} {
		ev := got[i]
		if ev.Severity != runtime.SeverityInfo || ev.Reason != meta.ReconciliationSucceededReason {
			t.Errorf("event %d: severity %s reason %s", i, ev.Severity, ev.Reason)
		}
		if rev := ev.Metadata[kustomizev1.GroupVersion.Group+"/revision"]; rev != want.revision {
			t.Errorf("event %d: revision %q, want %q", i, rev, want.revision)
		}
		wantContains(t, "event message", ev.Message, want.message...)
		if strings.Contains(ev.Message, "unchanged") {
			t.Errorf("event %d lists unchanged objects: %s", i, ev.Message)
		}
	}
}

// dependsOn on the same source waits until the dependency has applied the
// source's current revision; a readyExpr replaces that check. The
// dependency is suspended, and its status written by the test, so that it
// stays Ready at an older revision for as long as the test needs.
func TestDependsOnRevisionAndReadyExpr(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"first/a.yaml":  configMap(ns, "first", "v1"),
		"second/b.yaml": configMap(ns, "second", "v1"),
		"third/c.yaml":  configMap(ns, "third", "v1"),
	})
	first := newKustomization(t, ns, "first", "./first", func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true })
	setApplied := func(revision string) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			k := &kustomizev1.Kustomization{}
			if err := env.Client.Get(context.Background(), first, k); err != nil {
				return err
			}
			k.Status.ObservedGeneration = k.Generation
			k.Status.LastAppliedRevision = revision
			runtime.MarkReady(k, meta.ReconciliationSucceededReason, "Applied revision: %s", revision)
			return env.Client.Status().Update(context.Background(), k)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setApplied("main@sha1:0000000000000000000000000000000000000000")

	second := newKustomization(t, ns, "second", "./second", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "first"}}
	})
	third := newKustomization(t, ns, "third", "./third", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "first", ReadyExpr: "dep.status.lastAppliedRevision != ''"}}
	})
	ks := waitKs(t, second, "waiting for first", func(k *kustomizev1.Kustomization) bool {
		return runtime.Reason(k, meta.ReadyCondition) == meta.DependencyNotReadyReason
	})
	wantContains(t, "Ready message", readyMessage(ks), "'"+ns+"/first'", r.head())
	appliedAt(t, third, r.head()) // the readyExpr holds for the old revision
	if _, ok := cmValue(t, ns, "second", "value"); ok {
		t.Error("second applied before its dependency applied the revision")
	}

	setApplied(r.head())
	appliedAt(t, second, r.head())
}
