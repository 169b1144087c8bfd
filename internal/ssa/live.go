package ssa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// listPageSize bounds the objects of one List page.
const listPageSize = 500

// fullListThreshold is the number of objects of one kind and namespace
// that the cache cannot vouch for (as after a restart) from which their
// live objects are listed in full, in pages, instead of read one by one.
const fullListThreshold = 20

// lookupLive learns which of the items exist with one paged List per kind
// and namespace, instead of one request per object, where a List pays for
// itself:
//
//   - when the cache knows some of the group's objects (same digest), a
//     List of the metadata proves them unchanged (same resourceVersion),
//     and they cost nothing more;
//   - when fullListThreshold or more of them are unknown (as after a
//     restart), a List of the full objects replaces their reads.
//
// An object the Cache knows that m.Watched shows unchanged costs nothing.
// The items of other groups (a new Kustomization's, objects changed in
// Git) are left unknown: the dry-run that validates each of them says
// whether it exists (see probe), which saves the List. Where a List is
// not allowed, the items are probed too.
func (m *Manager) lookupLive(ctx context.Context, items []*item) {
	type key struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	groups := map[key][]*item{}
	var keys []key
	for _, it := range items {
		if it.mapping == nil {
			// The type is not served yet, so no such object exists.
			it.liveKnown = true
			continue
		}
		if m.Watched != nil && m.Cache.known(it.ref, it.digest) {
			if o, ok := m.Watched.WatchedObject(it.ref); ok && m.Cache.hit(it.ref, it.digest, o) {
				it.liveKnown, it.liveMeta = true, o
				continue
			}
		}
		k := key{it.ref.GroupVersionKind(), it.ref.Namespace}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], it)
	}
	forEach(ctx, m.concurrency(), keys, func(ctx context.Context, k key) {
		unknown := 0
		for _, it := range groups[k] {
			if !m.Cache.known(it.ref, it.digest) {
				unknown++
			}
		}
		full := unknown >= fullListThreshold
		if unknown == len(groups[k]) && !full {
			return // nothing the List could prove unchanged
		}
		// When the cache knows every object of the group, they are the
		// owner's, with its labels: list those only, not the whole
		// namespace, which many owners often share.
		owned := unknown == 0 && len(m.OwnerLabels) > 0
		live, err := m.listLive(ctx, k.gvk, k.ns, full, owned)
		if err != nil {
			return
		}
		for _, it := range groups[k] {
			o, ok := live[it.ref.Name]
			if !ok && owned {
				// One that lost the owner's labels may still exist,
				// and its dry-run tells.
				continue
			}
			it.liveKnown = true
			if ok {
				it.liveMeta = o
				if u, ok := o.(*unstructured.Unstructured); ok {
					it.live = u
				}
			}
		}
	})
}

// listLive lists the objects of one kind in one namespace (with owned,
// those that carry the owner labels only), by name: as
// *metav1.PartialObjectMetadata, or as *unstructured.Unstructured when full.
func (m *Manager) listLive(ctx context.Context, gvk schema.GroupVersionKind, namespace string, full, owned bool) (map[string]metav1.Object, error) {
	out := map[string]metav1.Object{}
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	cont := ""
	for {
		opts := []client.ListOption{client.Limit(listPageSize), client.Continue(cont)}
		if owned {
			opts = append(opts, client.MatchingLabels(m.OwnerLabels))
		}
		if namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		if full {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(listGVK)
			if err := m.Client.List(ctx, list, opts...); err != nil {
				return nil, err
			}
			for i := range list.Items {
				u := &list.Items[i]
				u.SetGroupVersionKind(gvk)
				out[u.GetName()] = u
			}
			cont = list.GetContinue()
		} else {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(listGVK)
			if err := m.Client.List(ctx, list, opts...); err != nil {
				return nil, err
			}
			for i := range list.Items {
				out[list.Items[i].Name] = &list.Items[i]
			}
			cont = list.GetContinue()
		}
		if cont == "" {
			return out, nil
		}
	}
}

// Field managers whose fields an Override apply takes over, so that what
// kubectl added or changed is reverted: any manager whose name starts with
// "kubectl" (kubectl apply, edit, patch, scale...), the "before-first-apply"
// entry that client-side apply leaves, and updates made under our own name
// before server-side apply was used. Merge leaves them alone. Fields set
// with the "flux-client-side-apply" manager survive both.
const (
	kubectlManagerPrefix = "kubectl"
	beforeFirstApply     = "before-first-apply"
)

func takenOver(e metav1.ManagedFieldsEntry, fieldManager string) bool {
	if e.Subresource != "" {
		return false
	}
	switch {
	case strings.HasPrefix(e.Manager, kubectlManagerPrefix):
		return true
	case e.Manager == beforeFirstApply || e.Manager == fieldManager:
		return e.Operation == metav1.ManagedFieldsOperationUpdate
	}
	return false
}

// needsCleanup reports whether the live object has fields that an
// Override apply must take over first.
func needsCleanup(live *unstructured.Unstructured, fieldManager string) bool {
	if _, ok := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
		return true
	}
	for _, e := range live.GetManagedFields() {
		if takenOver(e, fieldManager) {
			return true
		}
	}
	return false
}

// takeOver moves the fields that kubectl (and the other managers above)
// own into our apply entry and drops kubectl's last-applied annotation, so
// that the next apply removes the fields that are not in the desired
// state. The patch is guarded by the live resourceVersion.
func (m *Manager) takeOver(ctx context.Context, live *unstructured.Unstructured) error {
	var keep []metav1.ManagedFieldsEntry
	var ours *metav1.ManagedFieldsEntry
	merged := &fieldpath.Set{}
	for _, e := range live.GetManagedFields() {
		switch {
		case takenOver(e, m.FieldManager):
			s, err := fieldSet(e)
			if err != nil {
				return err
			}
			merged = merged.Union(s)
		case e.Manager == m.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			c := e
			ours = &c
		default:
			keep = append(keep, e)
		}
	}
	if ours == nil {
		now := metav1.Now()
		ours = &metav1.ManagedFieldsEntry{Manager: m.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: live.GetAPIVersion(), FieldsType: "FieldsV1", Time: &now}
	} else {
		s, err := fieldSet(*ours)
		if err != nil {
			return err
		}
		merged = merged.Union(s)
	}
	raw, err := merged.ToJSON()
	if err != nil {
		return err
	}
	ours.FieldsV1 = &metav1.FieldsV1{Raw: raw}
	keep = append(keep, *ours)

	ops := []map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": keep},
	}
	if _, ok := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
		ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/annotations/" + escapePointer(corev1.LastAppliedConfigAnnotation)})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	return m.Client.Patch(ctx, live.DeepCopy(), client.RawPatch(types.JSONPatchType, patch))
}

func fieldSet(e metav1.ManagedFieldsEntry) (*fieldpath.Set, error) {
	s := &fieldpath.Set{}
	if e.FieldsV1 == nil {
		return s, nil
	}
	if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
		return nil, fmt.Errorf("managed fields of %q: %w", e.Manager, err)
	}
	return s, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// sameObject reports whether an apply whose result is other left live as
// it was: same content (without what the server bumps on every write) and
// the same fields owned by our apply entry.
func sameObject(live, other *unstructured.Unstructured, fieldManager string) bool {
	if !equality.Semantic.DeepEqual(withoutServerFields(live).Object, withoutServerFields(other).Object) {
		return false
	}
	return bytes.Equal(ownedFields(live, fieldManager), ownedFields(other, fieldManager))
}

func withoutServerFields(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	return c
}

func ownedFields(u *unstructured.Unstructured, fieldManager string) []byte {
	for _, e := range u.GetManagedFields() {
		if e.Manager == fieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" && e.FieldsV1 != nil {
			return e.FieldsV1.Raw
		}
	}
	return nil
}

// forEach runs fn on every element with at most n at once and returns when
// all are done. It stops starting new ones once ctx ends.
func forEach[T any](ctx context.Context, n int, xs []T, fn func(context.Context, T)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, x := range xs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(ctx, x)
		}()
	}
	wg.Wait()
}
