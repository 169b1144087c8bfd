package kustomization

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

func secretManifest(ns, name string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\nstringData:\n  token: not-a-real-token\n"
}

// grant gives the service account ns/sa the verbs an apply needs on the
// listed core resources, through a Role and a RoleBinding named after it.
func grant(t *testing.T, ns, sa string, resources ...string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: resources,
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}},
	}
	existing := &rbacv1.Role{}
	if err := env.Client.Get(ctx, clientKey(ns, sa), existing); err == nil {
		existing.Rules = role.Rules
		if err := env.Client.Update(ctx, existing); err != nil {
			t.Fatal(err)
		}
		return
	}
	create(t, role, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	})
}

// spec.serviceAccountName: an apply that the account may not do fails
// with the API server's RBAC message and writes nothing of the revision;
// once the account may, the same revision applies.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}})
	grant(t, ns, "deployer", "configmaps")
	r := newRepo(t, ns, map[string]string{"deploy/a.yaml": configMap(ns, "a", "one")})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.ServiceAccountName = "deployer"
	})
	appliedAt(t, key, r.head())

	good := r.head()
	rev := r.push(map[string]string{
		"deploy/a.yaml": configMap(ns, "a", "two"),
		"deploy/s.yaml": secretManifest(ns, "token"),
	})
	ks := waitKs(t, key, "refused at "+rev, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastAttemptedRevision == rev && runtime.IsFalse(k, meta.ReadyCondition)
	})
	wantContains(t, "Ready message", readyMessage(ks),
		"Secret/"+ns+"/token", "forbidden", "system:serviceaccount:"+ns+":deployer", `"secrets"`)
	if ks.Status.LastAppliedRevision != good {
		t.Errorf("lastAppliedRevision %s, want %s", ks.Status.LastAppliedRevision, good)
	}
	if v, _ := cmValue(t, ns, "a", "value"); v != "one" {
		t.Errorf("a changed to %q by a revision that was refused", v)
	}
	if getObject(t, env.Client, "v1", "Secret", ns, "token") != nil {
		t.Error("the Secret was created")
	}

	grant(t, ns, "deployer", "configmaps", "secrets")
	appliedAt(t, key, rev)
	if v, _ := cmValue(t, ns, "a", "value"); v != "two" {
		t.Errorf("a is %q after the apply", v)
	}
	if getObject(t, env.Client, "v1", "Secret", ns, "token") == nil {
		t.Error("the Secret was not created")
	}
}

// --default-service-account: a Kustomization that names no account is
// applied as the default one, which must exist and be allowed.
func TestDefaultServiceAccount(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/a.yaml": configMap(ns, "a", "one")})
	key := newKustomization(t, ns, "app", "./deploy", lockedDown)
	ks := waitKs(t, key, "refused", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastAttemptedRevision == r.head() && runtime.IsFalse(k, meta.ReadyCondition)
	})
	wantContains(t, "Ready message", readyMessage(ks), "forbidden", "system:serviceaccount:"+ns+":"+lockdownServiceAccount)
	if _, ok := cmValue(t, ns, "a", "value"); ok {
		t.Fatal("a was applied with the controller's own identity")
	}

	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: lockdownServiceAccount, Namespace: ns}})
	grant(t, ns, lockdownServiceAccount, "configmaps")
	appliedAt(t, key, r.head())
	if v, _ := cmValue(t, ns, "a", "value"); v != "one" {
		t.Errorf("a is %q", v)
	}
}

// --no-cross-namespace-refs: a source or a dependency in another namespace
// stalls the Kustomization with a message naming the flag.
func TestNoCrossNamespaceRefs(t *testing.T) {
	t.Parallel()
	other := env.Namespace(t)
	ns := env.Namespace(t)
	newRepo(t, other, map[string]string{"deploy/a.yaml": configMap(ns, "a", "one")})

	src := newKustomization(t, ns, "source", "./deploy", func(k *kustomizev1.Kustomization) {
		lockedDown(k)
		k.Spec.SourceRef.Namespace = other
	})
	dep := newKustomization(t, ns, "dependency", "./deploy", func(k *kustomizev1.Kustomization) {
		lockedDown(k)
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "base", Namespace: other}}
	})
	for key, what := range map[string]string{src.Name: "spec.sourceRef: GitRepository '" + other + "/app'", dep.Name: "spec.dependsOn[0]: '" + other + "/base'"} {
		ks := waitKs(t, clientKey(ns, key), "stalled", func(k *kustomizev1.Kustomization) bool {
			return runtime.IsStalled(k) && runtime.IsFalse(k, meta.ReadyCondition)
		})
		if got := runtime.Reason(ks, meta.ReadyCondition); got != meta.AccessDeniedReason {
			t.Errorf("%s: reason %s, want %s", key, got, meta.AccessDeniedReason)
		}
		wantContains(t, key+" Ready message", readyMessage(ks), what, "--no-cross-namespace-refs")
	}
	if _, ok := cmValue(t, ns, "a", "value"); ok {
		t.Error("a cross-namespace source was applied")
	}
}
