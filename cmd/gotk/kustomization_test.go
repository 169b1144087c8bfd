package main

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// outcomeFor is what the stand-in kustomize controller reports for one
// Kustomization.
type outcomeFor struct {
	ready    bool
	reason   string
	message  string
	revision string
	entries  []string
}

// standInKustomizeController writes the status that the kustomize
// controller (not written yet) would: whenever a Kustomization in ns has a
// new generation or an unhandled reconcile request, it sets
// observedGeneration, lastHandledReconcileAt, Ready and the revision from
// outcomes (by name). A suspended Kustomization is left alone, as the
// controller leaves it.
func standInKustomizeController(t *testing.T, ns string, outcomes map[string]outcomeFor) {
	t.Helper()
	e := objects(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			items, err := listObjects(ctx, e.Client, kustomizationKind, ns)
			if err != nil {
				continue
			}
			for i := range items {
				u := &items[i]
				o, ok := outcomes[u.GetName()]
				request, _ := meta.ReconcileAnnotationValue(u.GetAnnotations())
				if !ok || isSuspended(u) || (observedGeneration(u) == u.GetGeneration() && request == lastHandledReconcileAt(u)) {
					continue
				}
				status := map[string]any{
					"observedGeneration":     u.GetGeneration(),
					"lastHandledReconcileAt": request,
					"lastAttemptedRevision":  o.revision,
				}
				cond := readyCondition("True", meta.ReconciliationSucceededReason, "Applied revision: "+o.revision)
				if !o.ready {
					cond = readyCondition("False", o.reason, o.message)
				} else {
					status["lastAppliedRevision"] = o.revision
				}
				status["conditions"] = []any{cond}
				if len(o.entries) > 0 {
					var entries []any
					for _, id := range o.entries {
						entries = append(entries, map[string]any{"id": id, "v": "v1"})
					}
					status["inventory"] = map[string]any{"entries": entries}
				}
				u.Object["status"] = status
				_ = e.Client.Status().Update(ctx, u)
			}
		}
	}()
}

// Create, reconcile (with the real GitRepository reconciler for the
// source), suspend, resume and delete Kustomizations; their status comes
// from a stand-in for the kustomize controller.
func TestKustomizationLifecycle(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, "fleet.git", map[string]string{"apps/cm.yaml": "kind: ConfigMap\n"})
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	head := gitserver.Must[string](t)(w.Head())
	rev := "main@sha1:" + head
	standInKustomizeController(t, ns, map[string]outcomeFor{
		"apps":  {ready: true, revision: rev, entries: []string{"_web__Namespace", "web_web_apps_Deployment"}},
		"infra": {ready: true, revision: rev},
		"bad":   {reason: meta.BuildFailedReason, message: "kustomization path not found: ./nowhere", revision: rev},
	})

	r := kgotk(t, "", "create", "source", "git", "fleet", "--url="+srv.RepoURL("fleet.git"), "--branch=main", "-n", ns)
	if r.code != 0 {
		t.Fatalf("create source git:\n%s", r)
	}
	r = kgotk(t, "", "create", "kustomization", "apps", "--source=fleet", "--path=./apps", "--prune", "-n", ns, "--timeout=1m")
	if r.code != 0 {
		t.Fatalf("create kustomization:\n%s", r)
	}
	for _, want := range []string{
		"► applying Kustomization " + ns + "/apps\n",
		"✔ Kustomization " + ns + "/apps created\n",
		"◎ waiting for Kustomization reconciliation\n",
		"✔ Kustomization reconciled\n",
		"✔ applied revision " + rev + "\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("create kustomization output lacks %q:\n%s", want, r)
		}
	}
	ks := &kustomizev1.Kustomization{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "apps"}, ks); err != nil {
		t.Fatal(err)
	}
	if ks.Spec.SourceRef.Kind != "GitRepository" || ks.Spec.SourceRef.Name != "fleet" || ks.Spec.Path != "./apps" || !ks.Spec.Prune ||
		ks.Spec.Interval.Duration != 10*time.Minute || !appliedBy(ks.ManagedFields, install.FieldManager) {
		t.Errorf("kustomization: %+v", ks.Spec)
	}
	r = kgotk(t, "", "create", "ks", "infra", "--source=GitRepository/fleet."+ns, "--path=./infra", "-n", ns)
	if r.code != 0 {
		t.Fatalf("create ks infra:\n%s", r)
	}

	// A failure: the Ready message, exit 1.
	r = kgotk(t, "", "create", "kustomization", "bad", "--source=fleet", "--path=./nowhere", "-n", ns, "--timeout=1m")
	if r.code == 0 || !strings.Contains(r.stderr, "✗ Kustomization "+ns+"/bad reconciliation failed: kustomization path not found: ./nowhere") {
		t.Fatalf("a failing Kustomization must fail create:\n%s", r)
	}

	// reconcile --with-source fetches the source first (for real).
	r = kgotk(t, "", "reconcile", "kustomization", "apps", "--with-source", "-n", ns)
	if r.code != 0 {
		t.Fatalf("reconcile --with-source:\n%s", r)
	}
	want := "► annotating GitRepository " + ns + "/fleet for reconciliation\n◎ waiting for GitRepository reconciliation\n✔ GitRepository reconciled\n" +
		"✔ fetched revision " + rev + "\n► annotating Kustomization " + ns + "/apps for reconciliation\n◎ waiting for Kustomization reconciliation\n" +
		"✔ Kustomization reconciled\n✔ applied revision " + rev + "\n"
	if r.stderr != want {
		t.Errorf("reconcile --with-source printed\n%s\nwant\n%s", r.stderr, want)
	}
	r = kgotk(t, "", "reconcile", "ks", "bad", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "reconciliation failed: kustomization path not found") {
		t.Errorf("reconcile of a failing Kustomization must fail:\n%s", r)
	}

	// Suspend all, then reconcile refuses; resume one by name and all.
	r = kgotk(t, "", "suspend", "kustomization", "--all", "-n", ns)
	if r.code != 0 || strings.Count(r.stderr, "suspended\n") != 3 {
		t.Fatalf("suspend --all:\n%s", r)
	}
	r = kgotk(t, "", "reconcile", "kustomization", "apps", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "Kustomization "+ns+"/apps is suspended, run gotk resume first: gotk resume kustomization apps -n "+ns) {
		t.Fatalf("reconcile while suspended:\n%s", r)
	}
	r = kgotk(t, "", "get", "kustomizations", "-n", ns, "--status-selector", "ready=true")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, "True        True") {
		t.Errorf("get while suspended:\n%s", r)
	}
	r = kgotk(t, "", "resume", "kustomization", "apps", "infra", "-n", ns)
	if r.code != 0 || strings.Count(r.stderr, "✔ applied revision "+rev) != 2 {
		t.Fatalf("resume two:\n%s", r)
	}
	r = kgotk(t, "", "resume", "kustomization", "--all", "-n", ns, "--timeout=1m")
	if r.code == 0 || !strings.Contains(r.stderr, "these kustomizations are not Ready: "+ns+"/bad") || strings.Count(r.stderr, "✔ applied revision") != 2 {
		t.Fatalf("resume --all with a failing one:\n%s", r)
	}
	for _, args := range [][]string{
		{"suspend", "kustomization", "-n", ns},
		{"suspend", "kustomization", "apps", "--all", "-n", ns},
	} {
		if r := kgotk(t, "", args...); r.code == 0 || !strings.Contains(r.stderr, "or give --all (not both)") {
			t.Errorf("%v:\n%s", args, r)
		}
	}

	// Delete: the question, the warning about pruning, and a no.
	r = kgotk(t, "n\n", "delete", "kustomization", "apps", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "Delete Kustomization "+ns+"/apps? [y/N]") ||
		!strings.Contains(r.stderr, "prunes: deleting it deletes the 2 objects it applied") || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("declined delete:\n%s", r)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "apps"}, ks); err != nil {
		t.Fatalf("a declined delete deleted: %v", err)
	}
	r = kgotk(t, "y\n", "delete", "kustomization", "apps", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Kustomization "+ns+"/apps deleted") {
		t.Fatalf("delete:\n%s", r)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "apps"}, ks); !apierrors.IsNotFound(err) {
		t.Errorf("still there: %v", err)
	}
	r = kgotk(t, "", "delete", "source", "git", "fleet", "--silent", "-n", ns)
	if r.code != 0 || strings.Contains(r.stderr, "[y/N]") {
		t.Fatalf("delete --silent:\n%s", r)
	}
	eventually(t, "the GitRepository to go (its finalizer removed by the controller)", func() bool {
		return apierrors.IsNotFound(e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fleet"}, newObject(gitRepositoryKind)))
	}, func() string { return "still there" })
	r = kgotk(t, "", "delete", "ks", "apps", "--silent", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "Kustomization apps not found in namespace "+ns+": list them with gotk get kustomizations -n "+ns) {
		t.Errorf("delete of a missing object:\n%s", r)
	}
}

// --watch prints the rows again as objects change, and stops with its
// context.
func TestGetWatch(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	b := kgotkBackground(t, "get", "kustomizations", "--watch", "-n", ns)
	eventually(t, "the header", func() bool { return strings.HasPrefix(b.out.String(), "NAME ") }, b.out.String)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(kustomizationKind.GVK)
	u.SetNamespace(ns)
	u.SetName("watched")
	_ = unstructured.SetNestedField(u.Object, map[string]any{"kind": "GitRepository", "name": "x"}, "spec", "sourceRef")
	_ = unstructured.SetNestedField(u.Object, "1m", "spec", "interval")
	_ = unstructured.SetNestedField(u.Object, true, "spec", "prune")
	if err := e.Client.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new object's row", func() bool { return strings.Contains(b.out.String(), "watched ") }, b.out.String)
	setStatus(t, kustomizationKind, ns, "watched", map[string]any{
		"conditions":          []any{readyCondition("True", "ReconciliationSucceeded", "Applied revision: main@sha1:abc")},
		"lastAppliedRevision": "main@sha1:abc",
	})
	eventually(t, "the Ready row", func() bool { return strings.Contains(b.out.String(), "Applied revision: main@sha1:abc") }, b.out.String)
	if code := b.stop(t); code != 0 {
		t.Errorf("watch exited %d:\n%s%s", code, b.out.String(), b.errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(b.out.String()), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[len(lines)-1], "watched   main@sha1:abc") {
		t.Errorf("watch output:\n%s", b.out.String())
	}

	r := kgotk(t, "", "get", "all", "--watch", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "--watch follows one kind") {
		t.Errorf("get all --watch:\n%s", r)
	}
}
