package ssa

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gotk-dev/gotk/internal/testenv"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestDiffMasksSecretsAndChangesNothing(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, counter := newManager(t)
	docs := func(password, mode string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: %[1]s}
stringData: {username: admin, password: %[2]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %[1]s}
data: {mode: %[3]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: same, namespace: %[1]s}
data: {mode: a}
`, ns, password, mode)
	}
	if _, err := m.Apply(ctx, objects(t, docs("old-pass-1", "a")), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	desired := objects(t, docs("new-pass-2", "b")+fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: fresh, namespace: %s}
stringData: {token: brand-new-token}
`, ns))

	counter.reset()
	diffs, changed, err := m.Diff(ctx, desired, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("changed = false")
	}
	got := map[string]Action{}
	text := ""
	for _, d := range diffs {
		got[d.Ref.String()] = d.Action
		text += d.Diff
	}
	want := map[string]Action{
		"Secret/" + ns + "/creds":       ActionConfigured,
		"ConfigMap/" + ns + "/settings": ActionConfigured,
		"ConfigMap/" + ns + "/same":     ActionUnchanged,
		"Secret/" + ns + "/fresh":       ActionCreated,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	for _, secret := range []string{"old-pass-1", "new-pass-2", "admin", "brand-new-token"} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(text, form) {
				t.Errorf("diff shows a secret value %q:\n%s", form, text)
			}
		}
	}
	for _, line := range []string{"-  password: '*** (before)'", "+  password: '*** (after)'", "  username: '***'", "+  token: '***", "-  mode: a", "+  mode: b"} {
		if !strings.Contains(text, line) {
			t.Errorf("diff lacks %q:\n%s", line, text)
		}
	}
	changes := map[string][]string{}
	for _, d := range diffs {
		for _, c := range d.Changes {
			changes[d.Ref.String()] = append(changes[d.Ref.String()], c.String())
		}
	}
	wantChanges := map[string][]string{
		"Secret/" + ns + "/creds":       {`/data/password: "*** (before)" -> "*** (after)"`},
		"ConfigMap/" + ns + "/settings": {`/data/mode: "a" -> "b"`},
	}
	if d := cmp.Diff(wantChanges, changes); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	for _, noise := range []string{"managedFields", "resourceVersion", "creationTimestamp"} {
		if strings.Contains(text, noise) {
			t.Errorf("diff shows %s:\n%s", noise, text)
		}
	}
	if counter.counts["PATCH"]+counter.counts["POST"]+counter.counts["PUT"]+counter.counts["DELETE"] != 0 {
		t.Errorf("Diff wrote to the cluster: %s", counter)
	}
	if v := get(t, "v1", "ConfigMap", ns, "settings").Object["data"]; fmt.Sprint(v) != "map[mode:a]" {
		t.Errorf("Diff changed the ConfigMap: %v", v)
	}
	t.Logf("diff output:\n%s", text)
}

// With a Cache, a second Diff of objects that did not change makes no
// dry-run, and an edit made in the cluster since is still found.
func TestDiffWithCacheSkipsUnchangedObjects(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	applier, _ := newManager(t)
	docs := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: %[1]s}
data: {mode: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: %[1]s}
data: {mode: a}
`, ns)
	if _, err := applier.Apply(ctx, objects(t, docs), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	m, counter := newManager(t)
	m.Cache = NewCache()
	actions := func() map[string]Action {
		t.Helper()
		diffs, _, err := m.Diff(ctx, objects(t, docs), ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Action{}
		for _, d := range diffs {
			out[d.Ref.Name] = d.Action
		}
		return out
	}
	unchanged := map[string]Action{"one": ActionUnchanged, "two": ActionUnchanged}
	if d := cmp.Diff(unchanged, actions()); d != "" {
		t.Fatalf("first Diff (-want +got):\n%s", d)
	}
	if n := counter.dryRuns(); n != 2 {
		t.Errorf("first Diff made %d dry-runs, want 2", n)
	}
	counter.reset()
	if d := cmp.Diff(unchanged, actions()); d != "" {
		t.Fatalf("second Diff (-want +got):\n%s", d)
	}
	if n := counter.dryRuns(); n != 0 {
		t.Errorf("second Diff of unchanged objects made %d dry-runs, want 0: %s", n, counter)
	}

	cm := get(t, "v1", "ConfigMap", ns, "two")
	_ = unstructured.SetNestedField(cm.Object, "edited", "data", "mode")
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	counter.reset()
	if d := cmp.Diff(map[string]Action{"one": ActionUnchanged, "two": ActionConfigured}, actions()); d != "" {
		t.Errorf("Diff after an edit (-want +got):\n%s", d)
	}
	if n := counter.dryRuns(); n != 1 {
		t.Errorf("Diff after an edit of one object made %d dry-runs, want 1", n)
	}
}

// An object that another writer changes between Diff's read and its
// dry-run (as a controller writes a status or an annotation) is read
// again, so that the other writer's change does not show as a difference.
func TestDiffReadsAgainAnObjectChangedMeanwhile(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	applier, _ := newManager(t)
	docs := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: raced, namespace: %s}\ndata: {mode: a}\n", ns)
	if _, err := applier.Apply(ctx, objects(t, docs), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/configmaps/raced") {
				once.Do(func() {
					cm := get(t, "v1", "ConfigMap", ns, "raced")
					cm.SetAnnotations(map[string]string{"other-controller/seen": "yes"})
					if err := env.Client.Update(context.Background(), cm, client.FieldOwner("other-controller")); err != nil {
						t.Error(err)
					}
				})
			}
			return resp, err
		})
	})
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	m := New(c, "kustomize-controller", KustomizationOwner("apps", "flux-system"))
	diffs, changed, err := m.Diff(ctx, objects(t, docs), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if changed || len(diffs) != 1 || diffs[0].Action != ActionUnchanged {
		t.Errorf("Diff %+v, want the ConfigMap unchanged", diffs)
	}
	if get(t, "v1", "ConfigMap", ns, "raced").GetAnnotations()["other-controller/seen"] != "yes" {
		t.Error("the other writer's change did not happen during the Diff")
	}
}
