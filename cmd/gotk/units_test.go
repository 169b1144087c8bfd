package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

func obj(generation int64, spec, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec, "status": status}}
	u.SetGeneration(generation)
	return u
}

func TestAssess(t *testing.T) {
	ready := func(st, reason, msg string) []any {
		return []any{map[string]any{"type": "Ready", "status": st, "reason": reason, "message": msg}}
	}
	for _, tc := range []struct {
		name  string
		u     *unstructured.Unstructured
		token string
		want  outcome
		msg   string
	}{
		{"no status yet", obj(1, nil, nil), "", pending, "waiting for the controller to observe generation 1"},
		{"old generation", obj(2, nil, map[string]any{"observedGeneration": int64(1), "conditions": ready("True", "Succeeded", "ok")}), "", pending, "waiting for the controller to observe generation 2"},
		{"ready", obj(2, nil, map[string]any{"observedGeneration": int64(2), "conditions": ready("True", "Succeeded", "ok")}), "", succeeded, "ok"},
		{"failed", obj(2, nil, map[string]any{"observedGeneration": int64(2), "conditions": ready("False", "BuildFailed", "bad path")}), "", failed, "bad path"},
		{"dependency", obj(1, nil, map[string]any{"observedGeneration": int64(1), "conditions": ready("False", "DependencyNotReady", "dep")}), "", pending, "dep"},
		{"unknown", obj(1, nil, map[string]any{"observedGeneration": int64(1), "conditions": ready("Unknown", "Progressing", "working")}), "", pending, "working"},
		{"request not handled", obj(1, nil, map[string]any{"observedGeneration": int64(1), "conditions": ready("True", "Succeeded", "ok"), "lastHandledReconcileAt": "a"}), "b", pending, "waiting for the controller to handle the request"},
		{"request handled", obj(1, nil, map[string]any{"observedGeneration": int64(1), "conditions": ready("True", "Succeeded", "ok"), "lastHandledReconcileAt": "b"}), "b", succeeded, "ok"},
		{"suspended", obj(1, map[string]any{"suspend": true}, nil), "", failed, "reconciliation is suspended"},
	} {
		got, msg := assess(tc.u, tc.token)
		if got != tc.want || msg != tc.msg {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, got, msg, tc.want, tc.msg)
		}
	}
}

func TestHumanBytesAndAge(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	saved := now
	defer func() { now = saved }()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now = func() time.Time { return base }
	for d, want := range map[time.Duration]string{5 * time.Second: "5s", 3*time.Minute + 2*time.Second: "3m2s", 4 * time.Hour: "4h", 12 * 24 * time.Hour: "12d"} {
		if got := age(base.Add(-d)); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if got := age(time.Time{}); got != "<unknown>" {
		t.Errorf("zero age %q", got)
	}
}

func TestParseSourceRefAndSelectors(t *testing.T) {
	for in, want := range map[string]kustomizev1.CrossNamespaceSourceReference{
		"podinfo":                      {Kind: "GitRepository", Name: "podinfo"},
		"podinfo.gotk-system":          {Kind: "GitRepository", Name: "podinfo", Namespace: "gotk-system"},
		"OCIRepository/app":            {Kind: "OCIRepository", Name: "app"},
		"gitrepository/my.app.v1.apps": {Kind: "GitRepository", Name: "my.app.v1", Namespace: "apps"},
		"bucket/b":                     {Kind: "Bucket", Name: "b"},
		"ExternalArtifact/apps":        {Kind: "ExternalArtifact", Name: "apps"},
		"ea/infra.gotk-system":         {Kind: "ExternalArtifact", Name: "infra", Namespace: "gotk-system"},
	} {
		got, err := parseSourceRef(in)
		if err != nil || got != want {
			t.Errorf("parseSourceRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	sel, err := parseStatusSelector("Ready=False, stalled=TRUE")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(statusSelector{"ready": "false", "stalled": "true"}, sel); diff != "" {
		t.Error(diff)
	}
	u := obj(1, nil, map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False"}}})
	if sel.matches(u) {
		t.Error("stalled is missing (unknown), so the selector must not match")
	}
	sel, _ = parseStatusSelector("ready=false")
	if !sel.matches(u) {
		t.Error("ready=false must match")
	}
	sel, _ = parseStatusSelector("ready=unknown")
	if !sel.matches(obj(1, nil, nil)) || sel.matches(u) {
		t.Error("ready=unknown matches objects without the condition only")
	}
	if got := ignoreLines([]string{" docs/", "", "*.md "}); got != "docs/\n*.md\n" {
		t.Errorf("ignoreLines %q", got)
	}
}
