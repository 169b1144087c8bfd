package release

import (
	"fmt"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	rel "helm.sh/helm/v4/pkg/release/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/google/go-cmp/cmp"
)

// The objects of a manifest come in their order with the metadata Helm
// adds when it applies them; namespaced ones without a namespace get the
// release's, cluster-scoped ones lose theirs, and a kind the cluster does
// not serve keeps what it has.
func TestObjectsAsHelmAppliesThem(t *testing.T) {
	mapper := apimeta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, apimeta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, apimeta.RESTScopeRoot)
	h := &rel.Release{Name: "web", Namespace: "apps", Version: 2, Manifest: `---
# Source: app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  labels: {tier: front}
data: {greeting: hello}
---
# Source: app/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web-reader, namespace: apps}
---
# Source: app/templates/empty.yaml
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: elsewhere, namespace: other}
`}
	objs, err := Objects(h, mapper)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, fmt.Sprintf("%s %s/%s %v %v", o.GetKind(), o.GetNamespace(), o.GetName(), o.GetLabels(), o.GetAnnotations()))
	}
	meta := "map[meta.helm.sh/release-name:web meta.helm.sh/release-namespace:apps]"
	want := []string{
		"ConfigMap apps/web map[app.kubernetes.io/managed-by:Helm tier:front] " + meta,
		"ClusterRole /web-reader map[app.kubernetes.io/managed-by:Helm] " + meta,
		"Widget apps/w map[app.kubernetes.io/managed-by:Helm] " + meta,
		"ConfigMap other/elsewhere map[app.kubernetes.io/managed-by:Helm] " + meta,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("objects (-want +got):\n%s", d)
	}
	if Excluded(objs[0], "TIER", "front") || !Excluded(objs[0], "tier", "FRONT") {
		t.Error("Excluded reads keys exactly and values without regard to case")
	}
	if Excluded(objs[1], "tier", "front") {
		t.Error("Excluded matched an object without the key")
	}
}

// CRDObjects reads the crds/ directory of the release's chart, subcharts'
// too, and nothing else.
func TestCRDObjects(t *testing.T) {
	crd := func(name string) []byte {
		return []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: " + name + "}\n")
	}
	sub := &chart.Chart{Metadata: &chart.Metadata{Name: "sub"}, Files: []*common.File{{Name: "crds/b.yaml", Data: crd("bs.example.com")}}}
	ch := &chart.Chart{Metadata: &chart.Metadata{Name: "app"}, Files: []*common.File{
		{Name: "crds/a.yaml", Data: append(append(crd("as.example.com"), "---\n"...), crd("cs.example.com")...)},
		{Name: "README.md", Data: []byte("# not a CRD")},
	}}
	ch.AddDependency(sub)
	objs, err := CRDObjects(&rel.Release{Name: "web", Chart: ch})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetName())
	}
	if d := cmp.Diff([]string{"as.example.com", "cs.example.com", "bs.example.com"}, got); d != "" {
		t.Errorf("CRDs (-want +got):\n%s", d)
	}
}
