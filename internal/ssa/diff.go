package ssa

import (
	"context"
	"fmt"
	"strings"
	"sync"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// ObjectDiff is what an apply would do to one object.
type ObjectDiff struct {
	Ref ObjectRef
	// Action is what the apply would do: created, configured, unchanged or
	// skipped.
	Action Action
	// Diff is a unified diff from the live object to the result of the
	// apply, as YAML, with server-managed fields left out and Secret values
	// masked. It is empty for unchanged and skipped objects.
	Diff string
	// Changes lists the fields that differ between the live object and
	// the result of the apply, by JSON Pointer, with the same values the
	// diff shows (Secret values masked). It is empty for created,
	// unchanged and skipped objects.
	Changes []FieldChange
}

// masked stands for a Secret value in a diff; a value that changes shows
// as before and after.
const (
	masked       = "***"
	maskedBefore = "*** (before)"
	maskedAfter  = "*** (after)"
)

// Diff computes, without changing anything, what Apply would do to each
// object: it server-side applies each one in dry-run mode and diffs the
// live object against the result. It reports whether any object would be
// created or configured, and returns the diffs of all the objects it could
// compute with an error naming those it could not.
//
// The dry-run does not see the fields an Override apply would take over
// from kubectl, so a field that kubectl added shows as staying, though the
// apply removes it.
//
// With a Cache, an object that the Cache vouches for (applied, or found
// unchanged by an earlier Diff, with the same desired object, and not
// changed in the cluster since but in its status) is unchanged without a
// dry-run, and an object found unchanged is remembered, unless it has
// fields that an apply would take over from kubectl first. Diff then costs
// one read per object while nothing changes, and none for an object that
// m.Watched shows unchanged.
func (m *Manager) Diff(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]ObjectDiff, bool, error) {
	items, perr := m.prepare(objs, opts)
	if perr != nil {
		return nil, false, perr
	}
	crds := crdTypes(items)
	namespaces := namespacesIn(items)
	out := make([]ObjectDiff, len(items))
	var mu sync.Mutex
	var failures []*ObjectError
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	forEach(ctx, m.concurrency(), idx, func(ctx context.Context, i int) {
		d, err := m.diffOne(ctx, items[i], crds, namespaces)
		if err != nil {
			mu.Lock()
			failures = append(failures, &ObjectError{Ref: items[i].ref, Err: conciseError(err)})
			mu.Unlock()
		}
		out[i] = d
	})
	changed := false
	var diffs []ObjectDiff
	for _, d := range out {
		if d.Action == "" {
			continue
		}
		diffs = append(diffs, d)
		changed = changed || d.Action == ActionCreated || d.Action == ActionConfigured
	}
	if len(failures) > 0 {
		return diffs, changed, fmt.Errorf("diff failed: %s", joinErrors(failures))
	}
	if err := ctx.Err(); err != nil {
		return diffs, changed, err
	}
	return diffs, changed, nil
}

// maxDiffReads bounds the reads of one object by Diff when it keeps
// changing between its read and its dry-run.
const maxDiffReads = 3

func (m *Manager) diffOne(ctx context.Context, it *item, crds map[schema.GroupKind]bool, namespaces map[string]bool) (ObjectDiff, error) {
	d := ObjectDiff{Ref: it.ref}
	if excluded(it.obj.GetLabels(), it.obj.GetAnnotations()) {
		d.Action = ActionSkipped
		return d, nil
	}
	if it.mapping == nil {
		if !crds[it.obj.GroupVersionKind().GroupKind()] {
			return d, fmt.Errorf("the API server does not serve %s, and no CRD in this apply defines kind %s", it.obj.GetAPIVersion(), it.ref.Kind)
		}
		// Its CRD is created first: show the object as it is desired.
		return m.created(d, it.obj)
	}
	if m.Watched != nil && it.mode != kustomizev1.SSAIfNotPresent && m.Cache.known(it.ref, it.digest) {
		if o, ok := m.Watched.WatchedObject(it.ref); ok && m.Cache.hit(it.ref, it.digest, o) && !excluded(o.GetLabels(), o.GetAnnotations()) {
			d.Action = ActionUnchanged
			return d, nil
		}
	}
	if err := m.readLive(ctx, it); err != nil {
		return d, err
	}
	if it.decided {
		d.Action = it.action
		return d, nil
	}
	if it.live != nil && m.Cache.hit(it.ref, it.digest, it.live) {
		d.Action = ActionUnchanged
		return d, nil
	}
	dry, err := m.applyObject(ctx, withLiveValues(it.obj, it.live, it.ignore), true, false)
	for reads := 1; err == nil && it.live != nil && dry.GetResourceVersion() != it.live.GetResourceVersion() && reads < maxDiffReads; reads++ {
		// The object changed between the read and the dry-run (its
		// controller wrote its status, say): compare with the new one.
		it.live, it.liveMeta, it.liveKnown = nil, nil, false
		if err := m.readLive(ctx, it); err != nil {
			return d, err
		}
		if it.decided {
			d.Action = it.action
			return d, nil
		}
		dry, err = m.applyObject(ctx, withLiveValues(it.obj, it.live, it.ignore), true, false)
	}
	switch {
	case err != nil && namespaces[it.ref.Namespace] && isNamespaceNotFound(err, it.ref.Namespace):
		return m.created(d, it.obj)
	case err != nil:
		return d, err
	case it.live == nil:
		return m.created(d, dry)
	}
	before, after := forDiff(it.live), forDiff(dry)
	maskSecret(before, after)
	text, err := unifiedDiff(it.ref, before, after)
	if err != nil {
		return d, err
	}
	d.Action, d.Diff = ActionUnchanged, text
	switch {
	case text != "":
		d.Action = ActionConfigured
		d.Changes = fieldChanges(before.Object, after.Object)
	case !needsCleanup(it.live, m.FieldManager):
		m.Cache.set(it.ref, it.digest, it.live)
	}
	return d, nil
}

func (m *Manager) created(d ObjectDiff, obj *unstructured.Unstructured) (ObjectDiff, error) {
	after := forDiff(obj)
	maskSecret(nil, after)
	text, err := unifiedDiff(d.Ref, nil, after)
	d.Action, d.Diff = ActionCreated, text
	return d, err
}

// forDiff returns a copy of u without what the server changes on every
// write.
func forDiff(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	if len(c.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	return c
}

// maskSecret replaces the values of a Secret's data and stringData (and
// the last-applied annotation, which holds them too) in before and after,
// either of which may be nil. A value that differs between the two shows
// as "*** (before)" and "*** (after)", so a diff tells which keys change
// without showing any value.
func maskSecret(before, after *unstructured.Unstructured) {
	for _, u := range []*unstructured.Unstructured{before, after} {
		if u != nil && !(u.GroupVersionKind().Group == "" && u.GetKind() == "Secret") {
			return
		}
	}
	for _, field := range []string{"data", "stringData"} {
		var b, a map[string]any
		if before != nil {
			b, _, _ = unstructured.NestedMap(before.Object, field)
		}
		if after != nil {
			a, _, _ = unstructured.NestedMap(after.Object, field)
		}
		for k, v := range b {
			if w, ok := a[k]; ok && fmt.Sprint(w) == fmt.Sprint(v) {
				b[k], a[k] = masked, masked
				continue
			}
			b[k] = maskedBefore
		}
		for k, v := range a {
			if v != masked {
				a[k] = maskedAfter
			}
		}
		if before != nil && b != nil {
			_ = unstructured.SetNestedMap(before.Object, b, field)
		}
		if after != nil && a != nil {
			_ = unstructured.SetNestedMap(after.Object, a, field)
		}
	}
	for _, u := range []*unstructured.Unstructured{before, after} {
		if u == nil {
			continue
		}
		if ann := u.GetAnnotations(); ann[corev1.LastAppliedConfigAnnotation] != "" {
			ann[corev1.LastAppliedConfigAnnotation] = masked
			u.SetAnnotations(ann)
		}
	}
}

// unifiedDiff returns the unified diff of the YAML of before and after
// (either may be nil), or "" when they are the same.
func unifiedDiff(ref ObjectRef, before, after *unstructured.Unstructured) (string, error) {
	var a, b []byte
	var err error
	if before != nil {
		if a, err = yaml.Marshal(before.Object); err != nil {
			return "", err
		}
	}
	if after != nil {
		if b, err = yaml.Marshal(after.Object); err != nil {
			return "", err
		}
	}
	if string(a) == string(b) {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(a),
		B:        lines(b),
		FromFile: "live/" + ref.String(),
		ToFile:   "desired/" + ref.String(),
		Context:  3,
	})
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	out := strings.SplitAfter(string(b), "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// Remember records in the Cache that objs were just applied by another
// writer with m.FieldManager, as Apply would have applied them with opts,
// and are now as live returns them (the answers to those writes): the
// next Apply or Diff of the same objects finds them unchanged without a
// dry-run, as long as they are not changed in the cluster. An object
// that live does not return, or whose live state has fields an apply
// would take over from kubectl first, is left unknown.
//
// The caller vouches for the write: it was a server-side apply of exactly
// these objects (after normalization) with the same field manager.
func (m *Manager) Remember(objs []*unstructured.Unstructured, opts ApplyOptions, live func(ObjectRef) *unstructured.Unstructured) error {
	if m.Cache == nil {
		return nil
	}
	items, perr := m.prepare(objs, opts)
	if perr != nil {
		return perr
	}
	for _, it := range items {
		if it.mapping == nil || it.mode == kustomizev1.SSAIfNotPresent {
			continue
		}
		o := live(it.ref)
		if o == nil || needsCleanup(o, m.FieldManager) || excluded(o.GetLabels(), o.GetAnnotations()) {
			continue
		}
		m.Cache.set(it.ref, it.digest, o)
	}
	return nil
}
