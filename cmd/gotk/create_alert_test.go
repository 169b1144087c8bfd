package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
)

// create alert-provider and create alert wait for the real reconcilers;
// get, get all, suspend, resume, export and delete work on both kinds.
func TestCreateAlertAndProviderWithRealController(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)

	r := kgotk(t, "", "create", "alert-provider", "sink", "--type=generic", "--address=http://webhook.apps.svc.cluster.local/hook", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create alert-provider:\n%s", r)
	}
	for _, want := range []string{"► applying Provider " + ns + "/sink\n", "✔ Provider " + ns + "/sink created\n", "✔ Provider reconciled\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("create alert-provider output lacks %q:\n%s", want, r)
		}
	}
	r = kgotk(t, "", "create", "alert", "ops", "--provider-ref=sink", "--event-severity=error",
		"--event-source=Kustomization/*", "--event-source=GitRepository/app.other", "--exclusion=timeout", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Alert "+ns+"/ops created\n") || !strings.Contains(r.stderr, "✔ Alert reconciled\n") {
		t.Fatalf("create alert:\n%s", r)
	}
	a := &notificationv1beta3.Alert{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ops"}, a); err != nil {
		t.Fatal(err)
	}
	wantSources := []notificationv1beta3.CrossNamespaceObjectReference{
		{Kind: "Kustomization", Name: "*"}, {Kind: "GitRepository", Name: "app", Namespace: "other"},
	}
	if a.Spec.ProviderRef.Name != "sink" || a.Spec.EventSeverity != "error" || !cmp.Equal(a.Spec.EventSources, wantSources) ||
		len(a.Spec.ExclusionList) != 1 {
		t.Errorf("spec: %+v", a.Spec)
	}

	r = kgotk(t, "", "create", "alert", "orphan", "--provider-ref=nope", "--event-source=Kustomization/*", "-n", ns, "--timeout=1m")
	if r.code == 0 || !strings.Contains(r.stderr, "Provider "+ns+"/nope not found") {
		t.Errorf("create alert with a missing Provider:\n%s", r)
	}

	r = kgotk(t, "", "get", "alerts", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "ops") || !strings.Contains(r.stdout, "Alert forwards events to Provider sink") {
		t.Errorf("get alerts:\n%s", r)
	}
	r = kgotk(t, "", "get", "alert-providers", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "sink") || !strings.Contains(r.stdout, "ready to deliver") {
		t.Errorf("get alert-providers:\n%s", r)
	}
	r = kgotk(t, "", "get", "all", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "alert/ops") || !strings.Contains(r.stdout, "provider/sink") {
		t.Errorf("get all lacks the Alert or the Provider:\n%s", r)
	}

	r = kgotk(t, "", "suspend", "alert", "ops", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Alert "+ns+"/ops suspended") {
		t.Fatalf("suspend alert:\n%s", r)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ops"}, a); err != nil || !a.Spec.Suspend {
		t.Errorf("after suspend: suspend=%v, %v", a.Spec.Suspend, err)
	}
	r = kgotk(t, "", "resume", "alert", "ops", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Alert "+ns+"/ops resumed") || !strings.Contains(r.stderr, "✔ Alert reconciled") {
		t.Fatalf("resume alert:\n%s", r)
	}
	r = kgotk(t, "", "suspend", "alert-provider", "sink", "-n", ns)
	if r.code != 0 {
		t.Fatalf("suspend alert-provider:\n%s", r)
	}
	r = kgotk(t, "", "resume", "alert-provider", "sink", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Provider reconciled") {
		t.Fatalf("resume alert-provider:\n%s", r)
	}

	r = kgotk(t, "", "export", "alert", "ops", "-n", ns)
	want := `---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: ops
  namespace: ` + ns + `
spec:
  eventSeverity: error
  eventSources:
  - kind: Kustomization
    name: '*'
  - kind: GitRepository
    name: app
    namespace: other
  exclusionList:
  - timeout
  providerRef:
    name: sink
  suspend: false
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("export alert:\n%s\nwant:\n%s", r, want)
	}
	r = kgotk(t, "", "export", "alert-provider", "--all", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "kind: Provider") || !strings.Contains(r.stdout, "type: generic") || strings.Contains(r.stdout, "status:") {
		t.Errorf("export alert-provider:\n%s", r)
	}

	for _, args := range [][]string{{"alert", "ops"}, {"alert", "orphan"}, {"alert-provider", "sink"}} {
		r = kgotk(t, "", append([]string{"delete"}, append(args, "-n", ns, "--silent")...)...)
		if r.code != 0 {
			t.Errorf("delete %v:\n%s", args, r)
		}
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ops"}, a); err == nil {
		t.Error("the Alert is still there after delete")
	}
}

// The create commands refuse what cannot work, naming the flag, before
// they reach the cluster.
func TestCreateAlertFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alert-provider", "p", "--address=http://x/"}, "--type is required"},
		{[]string{"alert-provider", "p", "--type=smtp", "--address=http://x/"}, `--type "smtp" is not supported`},
		{[]string{"alert-provider", "p", "--type=slack"}, "--address or --secret-ref is required"},
		{[]string{"alert-provider", "p", "--type=slack", "--address=hooks.slack.com"}, "--address"},
		{[]string{"alert-provider", "p", "--type=slack", "--secret-ref=Bad_Name"}, "--secret-ref"},
		{[]string{"alert", "a", "--event-source=Kustomization/*"}, "--provider-ref is required"},
		{[]string{"alert", "a", "--provider-ref=p"}, "--event-source is required"},
		{[]string{"alert", "a", "--provider-ref=p", "--event-source=Kustomization"}, "Kind/name"},
		{[]string{"alert", "a", "--provider-ref=p", "--event-source=Deployment/x"}, `kind "Deployment" sends no events`},
		{[]string{"alert", "a", "--provider-ref=p", "--event-source=Kustomization/*", "--event-severity=warning"}, "--event-severity"},
	} {
		r := gotk(t, "", append(append([]string{"create"}, tc.args...), "--export")...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("create %v: want an error with %q, got:\n%s", tc.args, tc.want, r)
		}
	}
	r := gotk(t, "", "create", "alert", "ops", "--provider-ref=slack", "--event-source=kustomization/*", "--event-source=gitrepo/app", "--summary=prod", "-n", "apps", "--export")
	want := `---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: ops
  namespace: apps
spec:
  eventMetadata:
    summary: prod
  eventSeverity: info
  eventSources:
  - kind: Kustomization
    name: '*'
  - kind: GitRepository
    name: app
  providerRef:
    name: slack
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("create alert --export:\n%s\nwant:\n%s", r, want)
	}
}
