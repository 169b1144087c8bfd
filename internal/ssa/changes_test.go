package ssa

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFieldChangesNameEachDifferingField(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web", "edited": "yes"}},
		"spec": map[string]any{
			"replicas": int64(3),
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "image": "nginx:1.27"},
			}}},
			"ports": []any{int64(80)},
			"same":  float64(2),
		},
	}
	desired := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web", "a/b": "x"}},
		"spec": map[string]any{
			"replicas": int64(1),
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "image": "nginx"},
			}}},
			"ports": []any{int64(80), int64(443)},
			"same":  int64(2),
		},
	}
	var got []string
	for _, c := range fieldChanges(live, desired) {
		got = append(got, c.String())
	}
	want := []string{
		`/metadata/labels/a~1b: added ("x")`,
		`/metadata/labels/edited: removed`,
		`/spec/ports: [...] -> [...]`,
		`/spec/replicas: 3 -> 1`,
		`/spec/template/spec/containers/0/image: "nginx:1.27" -> "nginx"`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if c := (FieldChange{Path: "/status/replicas"}); !c.Under("/status") || (FieldChange{Path: "/statusx"}).Under("/status") {
		t.Error("Under is wrong")
	}
}
