package ssa

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
