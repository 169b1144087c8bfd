package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// writePlain lays out a directory of plain manifests: single and multiple
// documents per file, a List, nested folders, a file that is not a
// Kubernetes object.
func writePlain(t testing.TB, root string, n int) {
	t.Helper()
	for i := range n {
		dir := filepath.Join(root, "apps", fmt.Sprintf("group-%d", i%7))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: ns\ndata:\n  i: %q\n", i, fmt.Sprint(i))
		if i%3 == 0 {
			doc += fmt.Sprintf("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-%d\n  namespace: ns\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers: [{name: web, image: nginx}]\n", i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("obj-%d.yaml", i)), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s1, namespace: ns}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s2, namespace: ns}\n"
	if err := os.WriteFile(filepath.Join(root, "apps", "list.yaml"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "apps", "comments.yaml"), []byte("# no object here\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func objectDumps(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		data, _ := o.MarshalJSON()
		out = append(out, o.GetKind()+"/"+o.GetName()+" "+string(data))
	}
	sort.Strings(out)
	return out
}

// A plain directory built without kustomize gives exactly the objects that
// kustomize gives.
func TestPlainBuildMatchesKustomize(t *testing.T) {
	root := t.TempDir()
	writePlain(t, root, 60)
	got, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "./apps"}, BuildOptions{NoRemoteBases: true})
	if err != nil {
		t.Fatal(err)
	}

	real, _ := filepath.EvalSymlinks(root)
	c := newConfinedFS(real, false)
	dir := filepath.Join(real, "apps")
	kus, err := generateKustomization(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plainFiles(c, dir, kus); !ok {
		t.Fatal("a plain directory did not take the plain path")
	}
	want, err := krustyBuild(t, root, &kustomizev1.KustomizationSpec{Path: "apps"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 60+20+2 {
		t.Fatalf("kustomize built %d objects", len(want))
	}
	if diff := cmp.Diff(objectDumps(want), objectDumps(got)); diff != "" {
		t.Errorf("plain build differs from kustomize (-kustomize +plain):\n%s", diff)
	}
}

// Two objects with the same identity are refused, naming both files.
func TestPlainBuildRefusesDuplicates(t *testing.T) {
	root := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: ns}\n"
	for _, f := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{}, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "a.yaml") || !strings.Contains(err.Error(), "b.yaml") {
		t.Errorf("err = %v, want one naming a.yaml and b.yaml", err)
	}
}

// Values read as kustomize (and so Flux) reads them: YAML 1.2, where yes,
// on and off are strings and 0755 is decimal; an object kustomize drops
// (local-config) is dropped, through kustomize itself.
func TestPlainBuildReadsYAMLAsKustomize(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"flags.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\n  namespace: ns\ndata:\n  enabled: yes\n  legacy: off\n",
		"workflow.yaml": "apiVersion: example.com/v1\nkind: Workflow\nmetadata:\n  name: ci\n  namespace: ns\nspec:\n  on: push\n  mode: 0755\n  when: 2024-01-02\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range got {
		byName[o.GetName()] = o
	}
	if v, _, _ := unstructured.NestedString(byName["flags"].Object, "data", "enabled"); v != "yes" {
		t.Errorf("data.enabled = %q, want the string yes", v)
	}
	if v, _, _ := unstructured.NestedString(byName["flags"].Object, "data", "legacy"); v != "off" {
		t.Errorf("data.legacy = %q, want the string off", v)
	}
	spec, _, _ := unstructured.NestedMap(byName["ci"].Object, "spec")
	if spec["on"] != "push" {
		t.Errorf("spec has %v, want the key on", spec)
	}

	// The same as kustomize itself, local-config included.
	local := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"
	if err := os.WriteFile(filepath.Join(root, "local.yaml"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = Build(context.Background(), root, &kustomizev1.KustomizationSpec{}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := krustyBuild(t, root, &kustomizev1.KustomizationSpec{Path: "."})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(objectDumps(want), objectDumps(got)); diff != "" {
		t.Errorf("plain build differs from kustomize (-kustomize +plain):\n%s", diff)
	}
	for _, o := range got {
		if o.GetName() == "local" {
			t.Error("a local-config object was built")
		}
	}
}
