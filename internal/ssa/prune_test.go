package ssa

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

func TestPruneDeletesOnlyWhatIsStillOurs(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	all := []*unstructured.Unstructured{
		configMap(ns, "keep", nil, map[string]string{"k": "v"}),
		configMap(ns, "stale", nil, map[string]string{"k": "v"}),
		configMap(ns, "protected", map[string]string{kustomizev1.PruneAnnotation: kustomizev1.DisabledValue}, map[string]string{"k": "v"}),
		configMap(ns, "adopted", nil, map[string]string{"k": "v"}),
	}
	cs, err := m.Apply(ctx, all, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldInv := Inventory(cs)

	// Another Kustomization takes over "adopted".
	live := get(t, "v1", "ConfigMap", ns, "adopted")
	labels := live.GetLabels()
	labels[kustomizev1.NameLabel] = "other"
	live.SetLabels(labels)
	if err := env.Client.Update(ctx, live); err != nil {
		t.Fatal(err)
	}

	cs, err = m.Apply(ctx, all[:1], ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newInv := Inventory(cs)
	stale, err := Diff(oldInv, newInv)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range stale {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"adopted", "protected", "stale"}, names); diff != "" {
		t.Fatalf("stale objects (-want +got):\n%s", diff)
	}

	pruned, err := m.Delete(ctx, stale, DeleteOptions{WaitTimeout: DefaultStageTimeout})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"ConfigMap/" + ns + "/stale":     ActionPruned,
		"ConfigMap/" + ns + "/protected": ActionSkipped,
		"ConfigMap/" + ns + "/adopted":   ActionSkipped,
	}
	if diff := cmp.Diff(want, actions(pruned)); diff != "" {
		t.Errorf("prune change set (-want +got):\n%s", diff)
	}
	if got := pruned.String(); got != "ConfigMap/"+ns+"/stale pruned" {
		t.Errorf("String() = %q", got)
	}
	for name, gone := range map[string]bool{"stale": true, "protected": false, "adopted": false, "keep": false} {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, configMap(ns, name, nil, nil))
		if gone != apierrors.IsNotFound(err) {
			t.Errorf("%s: get error %v, want gone=%v", name, err, gone)
		}
	}

	// Pruning again finds nothing left to delete.
	pruned, err = m.Delete(ctx, stale, DeleteOptions{Action: ActionDeleted})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pruned.String(), "stale") || pruned.Changed() {
		t.Errorf("second prune: %v", pruned.Entries)
	}
}

func TestPruneDeletesCustomResourcesBeforeTheirCRD(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	group := randName("p") + ".test.gotk.dev"
	m, _ := newManager(t)
	t.Cleanup(func() { deleteCRD(t, "widgets."+group) })
	objs := objects(t, widgetCRD(group)+"---\napiVersion: "+group+"/v1\nkind: Widget\nmetadata: {name: w, namespace: "+ns+"}\n")
	cs, err := m.Apply(ctx, objs, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := Diff(Inventory(cs), nil)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := m.Delete(ctx, stale, DeleteOptions{Action: ActionDeleted})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pruned.String(), "Widget/"+ns+"/w deleted, CustomResourceDefinition/widgets."+group+" deleted"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
