package kustomization

import (
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

func serviceManifest(ns, name string, port int) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
		"\nspec:\n  selector:\n    app: web\n  ports:\n    - port: " + strconv.Itoa(port) + "\n"
}

// badInput is a Kustomization at a good revision, with what that revision
// applied.
type badInput struct {
	t    *testing.T
	ns   string
	key  client.ObjectKey
	good string
}

// failsWith waits until the Kustomization's current generation failed at
// the given revision (any, when empty) with reason, checks the message,
// and checks that everything of the good revision is still in the
// cluster, unchanged, and still in the inventory.
func (b *badInput) failsWith(revision, reason string, msgParts ...string) {
	b.t.Helper()
	ks := waitKs(b.t, b.key, "failed with "+reason, func(k *kustomizev1.Kustomization) bool {
		return runtime.IsFalse(k, meta.ReadyCondition) && runtime.Reason(k, meta.ReadyCondition) == reason &&
			k.Status.ObservedGeneration == k.Generation && (revision == "" || k.Status.LastAttemptedRevision == revision)
	})
	msg := readyMessage(ks)
	b.t.Logf("%s: %s", reason, msg)
	wantContains(b.t, "Ready message", msg, msgParts...)
	if ks.Status.LastAppliedRevision != b.good {
		b.t.Errorf("lastAppliedRevision %s, want the good %s", ks.Status.LastAppliedRevision, b.good)
	}
	if n := len(ks.Status.Inventory.Entries); n != 2 {
		b.t.Errorf("inventory has %d entries, want the good revision's 2: %+v", n, ks.Status.Inventory.Entries)
	}
	b.intact()
}

func (b *badInput) intact() {
	b.t.Helper()
	if v, ok := cmValue(b.t, b.ns, "a", "value"); !ok || v != "one" {
		b.t.Errorf("ConfigMap a is %q (exists %v), want the good revision's \"one\"", v, ok)
	}
	if getObject(b.t, env.Client, "v1", "Service", b.ns, "web") == nil {
		b.t.Error("Service web of the good revision is gone")
	}
}

// Each kind of bad input fails with a message that says what to fix, and
// leaves every object of the last good revision in the cluster: nothing is
// written, nothing is pruned.
func TestBadInputKeepsLastGoodRevision(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	good := map[string]string{
		"deploy/a.yaml":   configMap(ns, "a", "one"),
		"deploy/svc.yaml": serviceManifest(ns, "web", 80),
	}
	r := newRepo(t, ns, good)
	key := newKustomization(t, ns, "app", "./deploy", nil)
	b := &badInput{t: t, ns: ns, key: key, good: r.head()}
	appliedAt(t, key, b.good)
	restore := func(mutate func(*kustomizev1.Kustomization)) {
		t.Helper()
		updateKs(t, key, mutate)
		appliedAt(t, key, b.good)
	}

	t.Run("path that does not exist", func(t *testing.T) {
		updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./nowhere" })
		b.failsWith(b.good, meta.BuildFailedReason, `spec.path "./nowhere" does not exist in the artifact`)
		restore(func(k *kustomizev1.Kustomization) { k.Spec.Path = "./deploy" })
	})
	t.Run("path out of the artifact", func(t *testing.T) {
		updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./deploy/../../etc" })
		b.failsWith(b.good, meta.BuildFailedReason, `spec.path "./deploy/../../etc" leads outside the artifact root`)
		restore(func(k *kustomizev1.Kustomization) { k.Spec.Path = "./deploy" })
	})
	t.Run("missing substituteFrom", func(t *testing.T) {
		updateKs(t, key, func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "absent"}}}
		})
		b.failsWith(b.good, meta.BuildFailedReason, "spec.postBuild.substituteFrom[0] ConfigMap "+ns+"/absent not found", "optional: true")
		restore(func(k *kustomizev1.Kustomization) { k.Spec.PostBuild = nil })
	})
	t.Run("source not ready", func(t *testing.T) {
		create(t, &sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: ns},
			Spec:       sourcev1.GitRepositorySpec{URL: "http://127.0.0.1:1/nothing.git", Interval: metav1.Duration{Duration: time.Hour}},
		})
		updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "pending" })
		b.failsWith("", meta.ArtifactFailedReason, "GitRepository '"+ns+"/pending'", "not ready")
		restore(func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "app" })
	})

	// Bad revisions: each also changes a, which must not reach the cluster.
	for _, tc := range []struct {
		name, file, content, reason string
		parts                       []string
	}{
		{"invalid YAML", "deploy/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: [oops\n",
			meta.BuildFailedReason, []string{"deploy/broken.yaml", "invalid YAML", "line 5: did not find expected ',' or ']'"}},
		{"unknown kind", "deploy/gadget.yaml", "apiVersion: nowhere.gotk.test/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: " + ns + "\n",
			meta.ReconciliationFailedReason, []string{"Gadget/" + ns + "/g", "does not serve nowhere.gotk.test/v1"}},
		{"object the API server rejects", "deploy/bad-svc.yaml", serviceManifest(ns, "bad", 70000),
			meta.ReconciliationFailedReason, []string{"Service/" + ns + "/bad", "spec.ports[0].port", "70000", "nothing was applied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := r.push(map[string]string{tc.file: tc.content, "deploy/a.yaml": configMap(ns, "a", "two")})
			b.failsWith(rev, tc.reason, tc.parts...)
			r.push(map[string]string{tc.file: "", "deploy/a.yaml": configMap(ns, "a", "one")})
			b.good = r.head()
			appliedAt(t, key, b.good)
			b.intact()
		})
	}
}

// Under the lockdown flags: a remote base is refused by --no-remote-bases,
// and a variable without a value fails a strict substitution; neither
// touches the last good revision.
func TestLockdownBadInputKeepsLastGoodRevision(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: lockdownServiceAccount, Namespace: ns}})
	grant(t, ns, lockdownServiceAccount, "configmaps", "services")
	r := newRepo(t, ns, map[string]string{
		"deploy/a.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: " + ns + "\ndata:\n  value: ${value}\n",
		"deploy/svc.yaml": serviceManifest(ns, "web", 80),
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		lockedDown(k)
		k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"value": "one"}}
	})
	b := &badInput{t: t, ns: ns, key: key, good: r.head()}
	appliedAt(t, key, b.good)
	b.intact()

	rev := r.push(map[string]string{"deploy/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - a.yaml
  - svc.yaml
  - https://github.com/example/fleet//base?ref=v1
`})
	b.failsWith(rev, meta.BuildFailedReason, "https://github.com/example/fleet//base?ref=v1", "--no-remote-bases")

	rev = r.push(map[string]string{
		"deploy/kustomization.yaml": "",
		"deploy/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: " + ns + "\n  labels:\n    owner: ${owner}\nspec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n",
	})
	b.failsWith(rev, meta.BuildFailedReason, "Service/"+ns+"/web", "variable not set", `"owner"`)
}
