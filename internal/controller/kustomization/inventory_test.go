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

func inventoryIDs(k *kustomizev1.Kustomization) map[string]bool {
	ids := map[string]bool{}
	if k.Status.Inventory != nil {
		for _, e := range k.Status.Inventory.Entries {
			ids[e.ID] = true
		}
	}
	return ids
}

// A prune that fails keeps in the inventory both what it could not delete
// and what the same reconcile created, so that neither is forgotten: once
// the prune may delete, the stale object goes and the new one stays.
func TestFailedPruneKeepsBothInventories(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "no-delete", Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "no-delete", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "no-delete", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "no-delete"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "no-delete", Namespace: ns}},
		})
	r := newRepo(t, ns, map[string]string{"deploy/old.yaml": configMap(ns, "old", "x")})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.ServiceAccountName = "no-delete"
	})
	appliedAt(t, key, r.head())

	rev := r.push(map[string]string{"deploy/old.yaml": "", "deploy/new.yaml": configMap(ns, "new", "y")})
	ks := waitKs(t, key, "prune failed at "+rev, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastAttemptedRevision == rev && runtime.Reason(k, meta.ReadyCondition) == meta.PruneFailedReason
	})
	ids := inventoryIDs(ks)
	oldID, newID := ns+"_old__ConfigMap", ns+"_new__ConfigMap"
	if !ids[oldID] || !ids[newID] {
		t.Errorf("inventory after the failed prune %v, want both %s and %s", ids, oldID, newID)
	}

	if len(ks.Status.History) == 0 || ks.Status.History[0].LastReconciledStatus != meta.PruneFailedReason {
		t.Errorf("status.history does not record the failed prune first: %+v", ks.Status.History)
	}

	role := &rbacv1.Role{}
	if err := env.Client.Get(ctx, clientKey(ns, "no-delete"), role); err != nil {
		t.Fatal(err)
	}
	role.Rules[0].Verbs = append(role.Rules[0].Verbs, "delete")
	if err := env.Client.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	ks = waitKs(t, key, "pruned", func(k *kustomizev1.Kustomization) bool {
		return runtime.IsReady(k) && !inventoryIDs(k)[oldID]
	})
	if !inventoryIDs(ks)[newID] {
		t.Errorf("inventory after the prune %v lacks %s", inventoryIDs(ks), newID)
	}
	if _, exists := cmValue(t, ns, "old", "value"); exists {
		t.Error("the stale ConfigMap was not pruned")
	}
}
