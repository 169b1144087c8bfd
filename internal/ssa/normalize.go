package ssa

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// normalize returns a copy of the desired object ready to apply: fields
// that only the API server sets are dropped (an exported manifest's
// resourceVersion would otherwise act as a precondition), and the owner
// labels are set.
func (m *Manager) normalize(in *unstructured.Unstructured) *unstructured.Unstructured {
	u := in.DeepCopy()
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	if len(m.OwnerLabels) > 0 {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range m.OwnerLabels {
			l[k] = v
		}
		u.SetLabels(l)
	}
	return u
}

// ssaMode reads the kustomize.toolkit.fluxcd.io/ssa switch of an object:
// Override (the default), Merge, IfNotPresent or Ignore, in any case.
func ssaMode(u *unstructured.Unstructured) (string, error) {
	v, ok := u.GetAnnotations()[kustomizev1.SSAAnnotation]
	if !ok {
		v, ok = u.GetLabels()[kustomizev1.SSAAnnotation]
	}
	if !ok || v == "" {
		return kustomizev1.SSAOverride, nil
	}
	for _, mode := range []string{kustomizev1.SSAOverride, kustomizev1.SSAMerge, kustomizev1.SSAIfNotPresent, kustomizev1.SSAIgnore} {
		if strings.EqualFold(v, mode) {
			return mode, nil
		}
	}
	return "", fmt.Errorf("%s: %q is not one of Override, Merge, IfNotPresent, Ignore", kustomizev1.SSAAnnotation, v)
}

// excluded reports whether metadata asks the controller to leave the
// object alone: reconcile: disabled, or ssa: Ignore.
func excluded(labels, annotations map[string]string) bool {
	return inMetadata(labels, annotations, kustomizev1.ReconcileAnnotation, kustomizev1.DisabledValue) ||
		inMetadata(labels, annotations, kustomizev1.SSAAnnotation, kustomizev1.SSAIgnore)
}

// forced reports whether the object asks to be recreated when an
// immutable field changes.
func forced(u *unstructured.Unstructured) bool {
	return inMetadata(u.GetLabels(), u.GetAnnotations(), kustomizev1.ForceAnnotation, kustomizev1.ForceEnabled)
}

// pointer is a parsed JSON Pointer (RFC 6901).
type pointer []string

func parsePointer(s string) (pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("JSON pointer %q does not start with /", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// get returns the value at p in obj.
func (p pointer) get(obj map[string]any) (any, bool) { return walk(obj, p, false) }

// parent returns the container holding the last token of p, creating
// missing maps on the way when create is set.
func (p pointer) parent(obj map[string]any, create bool) (any, bool) {
	return walk(obj, p[:len(p)-1], create)
}

// walk follows toks from obj through maps and lists and returns what it
// reaches; with create, a missing map key gets an empty map.
func walk(obj map[string]any, toks []string, create bool) (any, bool) {
	var cur any = obj
	for _, tok := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				if !create {
					return nil, false
				}
				v = map[string]any{}
				c[tok] = v
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// remove deletes the value at p from obj, if it is there.
func (p pointer) remove(obj map[string]any) {
	if len(p) == 0 {
		return
	}
	last := p[len(p)-1]
	switch c, _ := p.parent(obj, false); c := c.(type) {
	case map[string]any:
		delete(c, last)
	case []any:
		// Lists are set back in place through their own parent.
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return
		}
		list := append(append([]any{}, c[:i]...), c[i+1:]...)
		if len(p) == 1 {
			return
		}
		pointer(p[:len(p)-1]).set(obj, list)
	}
}

// set writes v at p in obj.
func (p pointer) set(obj map[string]any, v any) bool {
	if len(p) == 0 {
		return false
	}
	last := p[len(p)-1]
	switch c, _ := p.parent(obj, true); c := c.(type) {
	case map[string]any:
		c[last] = v
		return true
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return false
		}
		c[i] = v
		return true
	}
	return false
}

// ignoredPaths returns the JSON pointers that the rules name for obj.
func ignoredPaths(rules []meta.IgnoreRule, obj *unstructured.Unstructured) ([]pointer, error) {
	var out []pointer
	for i, r := range rules {
		ok, err := selects(r.Target, obj)
		if err != nil {
			return nil, fmt.Errorf("ignore[%d].target: %w", i, err)
		}
		if !ok {
			continue
		}
		for _, s := range r.Paths {
			p, err := parsePointer(s)
			if err != nil {
				return nil, fmt.Errorf("ignore[%d].paths: %w", i, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// selects reports whether the selector matches the object; a nil selector
// matches everything. Name is a regular expression matched against the
// whole name, as kustomize reads it.
func selects(s *meta.Selector, obj *unstructured.Unstructured) (bool, error) {
	if s == nil {
		return true, nil
	}
	gvk := obj.GroupVersionKind()
	if (s.Group != "" && s.Group != gvk.Group) || (s.Version != "" && s.Version != gvk.Version) ||
		(s.Kind != "" && s.Kind != gvk.Kind) || (s.Namespace != "" && s.Namespace != obj.GetNamespace()) {
		return false, nil
	}
	if s.Name != "" {
		re, err := regexp.Compile("^(?:" + s.Name + ")$")
		if err != nil {
			return false, fmt.Errorf("name %q: %w", s.Name, err)
		}
		if !re.MatchString(obj.GetName()) {
			return false, nil
		}
	}
	for _, sel := range []struct {
		expr string
		set  map[string]string
	}{{s.LabelSelector, obj.GetLabels()}, {s.AnnotationSelector, obj.GetAnnotations()}} {
		if sel.expr == "" {
			continue
		}
		parsed, err := labels.Parse(sel.expr)
		if err != nil {
			return false, fmt.Errorf("selector %q: %w", sel.expr, err)
		}
		if !parsed.Matches(labels.Set(sel.set)) {
			return false, nil
		}
	}
	return true, nil
}

// withoutPaths returns a copy of u without the fields at paths.
func withoutPaths(u *unstructured.Unstructured, paths []pointer) *unstructured.Unstructured {
	if len(paths) == 0 {
		return u
	}
	c := u.DeepCopy()
	for _, p := range paths {
		p.remove(c.Object)
	}
	return c
}

// withLiveValues returns a copy of u in which each field at paths holds
// its value in live, or is absent when live does not have it, so that the
// apply leaves those fields as they are in the cluster.
func withLiveValues(u, live *unstructured.Unstructured, paths []pointer) *unstructured.Unstructured {
	if len(paths) == 0 || live == nil {
		return u
	}
	c := u.DeepCopy()
	for _, p := range paths {
		if v, ok := p.get(live.Object); ok && p.set(c.Object, runtimeDeepCopy(v)) {
			continue
		}
		p.remove(c.Object)
	}
	return c
}

func runtimeDeepCopy(v any) any {
	return (&unstructured.Unstructured{Object: map[string]any{"v": v}}).DeepCopy().Object["v"]
}
