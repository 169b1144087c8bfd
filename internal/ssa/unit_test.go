package ssa

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gotk-dev/gotk/api/meta"
)

func TestChangeSetString(t *testing.T) {
	cs := &ChangeSet{}
	cs.Add(ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}, ActionConfigured)
	cs.Add(ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "app", Name: "settings"}, ActionCreated)
	cs.Add(ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "app", Name: "same"}, ActionUnchanged)
	cs.Add(ObjectRef{Version: "v1", Kind: "Namespace", Name: "app"}, ActionSkipped)
	cs.Add(ObjectRef{Version: "v1", Kind: "Service", Namespace: "app", Name: "old"}, ActionPruned)
	if got, want := cs.String(), "Deployment/apps/web configured, ConfigMap/app/settings created, Service/app/old pruned"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := cs.Summary(), "1 created, 1 configured, 1 unchanged, 1 skipped, 1 pruned"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if !cs.Changed() || (&ChangeSet{}).Changed() {
		t.Error("Changed() is wrong")
	}
	if got := cs.Counts()[ActionCreated]; got != 1 {
		t.Errorf("Counts()[created] = %d", got)
	}
}

func TestInventoryAndDiff(t *testing.T) {
	cs := &ChangeSet{}
	cs.Add(ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}, ActionConfigured)
	cs.Add(ObjectRef{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "system:web"}, ActionCreated)
	cs.Add(ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "ignored"}, ActionSkipped)
	cs.Add(ObjectRef{Version: "v1", Kind: "Service", Namespace: "apps", Name: "old"}, ActionPruned)
	inv := Inventory(cs)
	want := &meta.ResourceInventory{Entries: []meta.ResourceRef{
		{ID: "_system__web_rbac.authorization.k8s.io_ClusterRole", Version: "v1"},
		{ID: "apps_ignored__ConfigMap", Version: "v1"},
		{ID: "apps_web_apps_Deployment", Version: "v1"},
	}}
	if d := cmp.Diff(want, inv); d != "" {
		t.Fatalf("Inventory (-want +got):\n%s", d)
	}
	refs, err := InventoryRefs(inv)
	if err != nil {
		t.Fatal(err)
	}
	if refs[0].Name != "system:web" || refs[0].Kind != "ClusterRole" || refs[0].Namespace != "" {
		t.Errorf("InventoryRefs()[0] = %+v", refs[0])
	}

	newer := &meta.ResourceInventory{Entries: []meta.ResourceRef{
		{ID: "apps_web_apps_Deployment", Version: "v2"}, // version change: not stale
	}}
	stale, err := Diff(inv, newer)
	if err != nil {
		t.Fatal(err)
	}
	wantStale := []ObjectRef{
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "system:web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "ignored"},
	}
	if d := cmp.Diff(wantStale, stale); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	if _, err := Diff(&meta.ResourceInventory{Entries: []meta.ResourceRef{{ID: "garbage"}}}, nil); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Errorf("Diff of a malformed ID: err = %v", err)
	}
}

func TestStageOf(t *testing.T) {
	for _, tc := range []struct {
		group, kind string
		want        Stage
	}{
		{"apiextensions.k8s.io", "CustomResourceDefinition", StageClusterDefinitions},
		{"", "Namespace", StageClusterDefinitions},
		{"rbac.authorization.k8s.io", "ClusterRole", StageClusterDefinitions},
		{"rbac.authorization.k8s.io", "ClusterRoleBinding", StageClusterDefinitions},
		{"storage.k8s.io", "StorageClass", StageClasses},
		{"networking.k8s.io", "IngressClass", StageClasses},
		{"scheduling.k8s.io", "PriorityClass", StageClasses},
		{"node.k8s.io", "RuntimeClass", StageClasses},
		{"rbac.authorization.k8s.io", "Role", StageResources},
		{"apps", "Deployment", StageResources},
		{"example.com", "Namespace", StageResources},
	} {
		if got := StageOf(tc.group, tc.kind); got != tc.want {
			t.Errorf("StageOf(%q, %q) = %s, want %s", tc.group, tc.kind, got, tc.want)
		}
	}
}

func TestPointers(t *testing.T) {
	obj := func() map[string]any {
		return map[string]any{
			"spec": map[string]any{
				"replicas": int64(3),
				"list":     []any{"a", "b", "c"},
				"a/b":      "slash",
				"m~n":      "tilde",
			},
		}
	}
	for _, tc := range []struct {
		path string
		want map[string]any
	}{
		{"/spec/replicas", map[string]any{"spec": map[string]any{"list": []any{"a", "b", "c"}, "a/b": "slash", "m~n": "tilde"}}},
		{"/spec/list/1", map[string]any{"spec": map[string]any{"replicas": int64(3), "list": []any{"a", "c"}, "a/b": "slash", "m~n": "tilde"}}},
		{"/spec/a~1b", map[string]any{"spec": map[string]any{"replicas": int64(3), "list": []any{"a", "b", "c"}, "m~n": "tilde"}}},
		{"/spec/m~0n", map[string]any{"spec": map[string]any{"replicas": int64(3), "list": []any{"a", "b", "c"}, "a/b": "slash"}}},
		{"/spec/missing/deep", obj()},
		{"/spec/list/9", obj()},
	} {
		p, err := parsePointer(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got := obj()
		p.remove(got)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("remove %s (-want +got):\n%s", tc.path, d)
		}
	}
	if _, err := parsePointer("spec/replicas"); err == nil {
		t.Error("a pointer without a leading / parsed")
	}

	desired := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": int64(1), "paused": true}}}
	live := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": int64(5)}}}
	paths := []pointer{{"spec", "replicas"}, {"spec", "paused"}}
	got := withLiveValues(desired, live, paths)
	if d := cmp.Diff(map[string]any{"spec": map[string]any{"replicas": int64(5)}}, got.Object); d != "" {
		t.Errorf("withLiveValues (-want +got):\n%s", d)
	}
	if desired.Object["spec"].(map[string]any)["replicas"] != int64(1) {
		t.Error("withLiveValues changed its input")
	}
}

func TestSelects(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace("apps")
	u.SetName("web-frontend")
	u.SetLabels(map[string]string{"tier": "web"})
	u.SetAnnotations(map[string]string{"owner": "team-a"})
	for _, tc := range []struct {
		sel  *meta.Selector
		want bool
	}{
		{nil, true},
		{&meta.Selector{}, true},
		{&meta.Selector{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps"}, true},
		{&meta.Selector{Kind: "StatefulSet"}, false},
		{&meta.Selector{Name: "web-.*"}, true},
		{&meta.Selector{Name: "web"}, false}, // the whole name must match
		{&meta.Selector{LabelSelector: "tier in (web,api)"}, true},
		{&meta.Selector{LabelSelector: "tier=db"}, false},
		{&meta.Selector{AnnotationSelector: "owner=team-a"}, true},
		{&meta.Selector{AnnotationSelector: "!owner"}, false},
	} {
		got, err := selects(tc.sel, u)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("selects(%+v) = %v, want %v", tc.sel, got, tc.want)
		}
	}
	if _, err := selects(&meta.Selector{Name: "("}, u); err == nil {
		t.Error("a bad name regexp was accepted")
	}
}

func TestMaskSecret(t *testing.T) {
	secret := func(data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": data,
			"metadata": map[string]any{"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"a":"c2VjcmV0"}}`}}}}
	}
	before := secret(map[string]any{"same": "AAA", "changed": "BBB", "removed": "CCC"})
	after := secret(map[string]any{"same": "AAA", "changed": "DDD", "added": "EEE"})
	maskSecret(before, after)
	if d := cmp.Diff(map[string]any{"same": masked, "changed": maskedBefore, "removed": maskedBefore}, before.Object["data"]); d != "" {
		t.Errorf("before (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"same": masked, "changed": maskedAfter, "added": maskedAfter}, after.Object["data"]); d != "" {
		t.Errorf("after (-want +got):\n%s", d)
	}
	if got := before.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]; got != masked {
		t.Errorf("last-applied annotation = %q, want masked", got)
	}

	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "v"}}}
	maskSecret(cm, cm.DeepCopy())
	if cm.Object["data"].(map[string]any)["k"] != "v" {
		t.Error("a ConfigMap was masked")
	}
}

func TestCELHealthCheck(t *testing.T) {
	checks, err := compileHealthChecks([]meta.CustomHealthCheck{{
		APIVersion: "example.com/v1",
		Kind:       "Thing",
		InProgress: "status.observedGeneration != metadata.generation",
		Failed:     "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')",
		Current:    "self.status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
	}})
	if err != nil {
		t.Fatal(err)
	}
	thing := func(gen, observed int64, ready string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Thing",
			"metadata": map[string]any{"name": "t", "generation": gen},
		}}
		if ready != "" {
			u.Object["status"] = map[string]any{"observedGeneration": observed,
				"conditions": []any{map[string]any{"type": "Ready", "status": ready}}}
		}
		return u
	}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		want status.Status
	}{
		{"ready", thing(2, 2, "True"), status.CurrentStatus},
		{"failed", thing(2, 2, "False"), status.FailedStatus},
		{"old generation", thing(3, 2, "True"), status.InProgressStatus},
		{"no status", thing(1, 0, ""), status.InProgressStatus},
	} {
		got, msg := healthOf(tc.obj, checks)
		if got != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, got, msg, tc.want)
		}
	}

	// Kinds without a check go to kstatus.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}}
	if got, _ := healthOf(cm, checks); got != status.CurrentStatus {
		t.Errorf("ConfigMap: %s, want Current", got)
	}

	if _, err := compileHealthChecks([]meta.CustomHealthCheck{{APIVersion: "a/v1", Kind: "K"}}); err == nil {
		t.Error("a check without current compiled")
	}
}

func TestConciseErrorDropsLongValues(t *testing.T) {
	long := strings.Repeat("x", 600)
	err := apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "migrate", field.ErrorList{
		field.Invalid(field.NewPath("spec", "template"), map[string]string{"env": long}, "field is immutable"),
	})
	got := conciseError(err)
	if got.Error() != `Job.batch "migrate" is invalid: spec.template: FieldValueInvalid: field is immutable` {
		t.Errorf("conciseError() = %q", got)
	}
	if !apierrors.IsInvalid(got) {
		t.Error("the shortened error lost its API status")
	}
	short := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "c", field.ErrorList{field.Required(field.NewPath("data"), "")})
	if conciseError(short) != error(short) {
		t.Error("a short error was rewritten")
	}
}
