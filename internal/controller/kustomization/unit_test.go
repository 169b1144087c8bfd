package kustomization

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/ssa"
)

func TestBuildKey(t *testing.T) {
	base := kustomizev1.KustomizationSpec{Path: "./app", Prune: true}
	var keyWith func(string, func(*kustomizev1.KustomizationSpec), map[string]string, string) string
	key := func(digest string, mutate func(*kustomizev1.KustomizationSpec), vars map[string]string) string {
		t.Helper()
		return keyWith(digest, mutate, vars, "")
	}
	keyWith = func(digest string, mutate func(*kustomizev1.KustomizationSpec), vars map[string]string, keys string) string {
		t.Helper()
		spec := base
		if mutate != nil {
			mutate(&spec)
		}
		k, err := buildKey(digest, &spec, vars, keys, false, false)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	same := key("sha256:a", nil, map[string]string{"x": "1"})
	if got := key("sha256:a", func(s *kustomizev1.KustomizationSpec) { s.Prune = false; s.Wait = true }, map[string]string{"x": "1"}); got != same {
		t.Error("fields that do not change the build changed the key")
	}
	for name, other := range map[string]string{
		"artifact":  key("sha256:b", nil, map[string]string{"x": "1"}),
		"variable":  key("sha256:a", nil, map[string]string{"x": "2"}),
		"path":      key("sha256:a", func(s *kustomizev1.KustomizationSpec) { s.Path = "./other" }, map[string]string{"x": "1"}),
		"namespace": key("sha256:a", func(s *kustomizev1.KustomizationSpec) { s.TargetNamespace = "ns" }, map[string]string{"x": "1"}),
		"images":    key("sha256:a", func(s *kustomizev1.KustomizationSpec) { s.Images = []meta.Image{{Name: "a", NewTag: "b"}} }, map[string]string{"x": "1"}),
		"decryption": key("sha256:a", func(s *kustomizev1.KustomizationSpec) {
			s.Decryption = &kustomizev1.Decryption{Provider: kustomizev1.DecryptionProviderSOPS}
		}, map[string]string{"x": "1"}),
		"decryption keys": keyWith("sha256:a", nil, map[string]string{"x": "1"}, "sha256:keys"),
	} {
		if other == same {
			t.Errorf("a different %s gave the same key", name)
		}
	}
}

func TestAddToInventory(t *testing.T) {
	cm := func(name string) ssa.ObjectRef {
		return ssa.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: name}
	}
	old := &meta.ResourceInventory{Entries: []meta.ResourceRef{{ID: cm("a").ID(), Version: "v1"}, {ID: cm("c").ID(), Version: "v1"}}}
	cs := &ssa.ChangeSet{}
	cs.Add(cm("a"), ssa.ActionConfigured)
	cs.Add(cm("b"), ssa.ActionCreated)
	cs.Add(cm("d"), ssa.ActionUnchanged) // not written by this apply: not added
	got := addToInventory(old, cs)
	want := &meta.ResourceInventory{Entries: []meta.ResourceRef{
		{ID: cm("a").ID(), Version: "v1"}, {ID: cm("b").ID(), Version: "v1"}, {ID: cm("c").ID(), Version: "v1"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	if got := addToInventory(old, nil); got != old {
		t.Error("a failed apply with no change set changed the inventory")
	}
	if got := addToInventory(nil, cs); len(got.Entries) != 2 {
		t.Errorf("from no inventory: %+v", got.Entries)
	}
}

func TestHealthRefsSkipSelf(t *testing.T) {
	obj := &kustomizev1.Kustomization{}
	obj.Name, obj.Namespace = "flux-system", "flux-system"
	obj.Spec.Wait = true
	self := ssa.ObjectRef{Group: kustomizev1.GroupVersion.Group, Version: "v1", Kind: "Kustomization", Namespace: "flux-system", Name: "flux-system"}
	other := ssa.ObjectRef{Group: kustomizev1.GroupVersion.Group, Version: "v1", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	cs := &ssa.ChangeSet{}
	cs.Add(self, ssa.ActionConfigured)
	cs.Add(other, ssa.ActionCreated)
	if diff := cmp.Diff([]ssa.ObjectRef{other}, healthRefs(obj, cs)); diff != "" {
		t.Errorf("wait refs (-want +got):\n%s", diff)
	}
	obj.Spec.Wait = false
	obj.Spec.HealthChecks = []meta.NamespacedObjectKindReference{
		{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "flux-system"},
		{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Namespace: "apps"},
	}
	want := []ssa.ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}}
	if diff := cmp.Diff(want, healthRefs(obj, cs)); diff != "" {
		t.Errorf("healthChecks refs (-want +got):\n%s", diff)
	}
}

func TestSameSource(t *testing.T) {
	ks := func(ns, srcNS, name string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{}
		k.Namespace = ns
		k.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: name, Namespace: srcNS}
		return k
	}
	for _, tc := range []struct {
		a, b *kustomizev1.Kustomization
		want bool
	}{
		{ks("x", "", "repo"), ks("x", "", "repo"), true},
		{ks("x", "", "repo"), ks("y", "x", "repo"), true},
		{ks("x", "", "repo"), ks("y", "", "repo"), false},
		{ks("x", "", "repo"), ks("x", "", "other"), false},
	} {
		if got := sameSource(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSource(%+v, %+v) = %v", tc.a.Spec.SourceRef, tc.b.Spec.SourceRef, got)
		}
	}
}

func TestKeepTransitionTimes(t *testing.T) {
	old := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))
	before := []metav1.Condition{
		{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, LastTransitionTime: old},
		{Type: meta.HealthyCondition, Status: metav1.ConditionTrue, LastTransitionTime: old},
	}
	after := []metav1.Condition{
		{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, LastTransitionTime: now},
		{Type: meta.HealthyCondition, Status: metav1.ConditionFalse, LastTransitionTime: now},
		{Type: meta.ReconcilingCondition, Status: metav1.ConditionTrue, LastTransitionTime: now},
	}
	keepTransitionTimes(before, after)
	for i, want := range []metav1.Time{old, now, now} {
		if !after[i].LastTransitionTime.Equal(&want) {
			t.Errorf("%s: transition time %v, want %v", after[i].Type, after[i].LastTransitionTime, want)
		}
	}
}

// With a secret key, a Secret's values enter the history digest through
// an HMAC: the digest still follows every value, but without the key it
// cannot be recomputed from a guess of one.
func TestObjectsDigestKeysSecretValues(t *testing.T) {
	secret := func(value string) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
			"stringData": map[string]any{"password": value},
		}}}
	}
	digest := func(objs []*unstructured.Unstructured, key string) string {
		t.Helper()
		var k []byte
		if key != "" {
			k = []byte(key)
		}
		d, err := objectsDigest(objs, k)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	plain, keyed := digest(secret("1234"), ""), digest(secret("1234"), "sha256:keys")
	if plain == keyed {
		t.Error("the keyed digest is the plain digest: a guessed value could be checked against it")
	}
	if keyed == digest(secret("1235"), "sha256:keys") {
		t.Error("the keyed digest does not follow the Secret's value")
	}
	if keyed != digest(secret("1234"), "sha256:keys") {
		t.Error("the keyed digest is not stable")
	}
	objs := secret("1234")
	digest(objs, "sha256:keys")
	if objs[0].Object["stringData"].(map[string]any)["password"] != "1234" {
		t.Error("the digest changed the object it digested")
	}
}
