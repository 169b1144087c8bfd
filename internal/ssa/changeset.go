package ssa

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gotk-dev/gotk/api/meta"
)

// Action is what an apply or a delete did to one object.
type Action string

const (
	// ActionCreated means the object did not exist and was created (or was
	// deleted and created again because an immutable field changed).
	ActionCreated Action = "created"
	// ActionConfigured means the object existed and the apply changed it.
	ActionConfigured Action = "configured"
	// ActionUnchanged means the object already matched the desired state.
	ActionUnchanged Action = "unchanged"
	// ActionSkipped means the object was left alone on purpose: an
	// annotation excluded it, it exists and asks for IfNotPresent, or (on
	// delete) another owner or prune: disabled protects it.
	ActionSkipped Action = "skipped"
	// ActionPruned means the object left the desired state and was deleted.
	ActionPruned Action = "pruned"
	// ActionDeleted means the object was deleted because its owner went away.
	ActionDeleted Action = "deleted"
)

// ObjectRef names one Kubernetes object by group, version, kind, namespace
// and name. The namespace is empty for cluster-scoped objects.
type ObjectRef struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// GroupVersionKind returns the ref's group, version and kind.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// ID returns the ref's inventory ID, "<namespace>_<name>_<group>_<kind>".
// It does not depend on the version, so one object keeps its ID when its
// manifests move to a newer API version.
func (r ObjectRef) ID() string { return meta.ResourceID(r.Namespace, r.Name, r.Group, r.Kind) }

// String returns "Kind/namespace/name", or "Kind/name" for a
// cluster-scoped object, the form used in events and errors.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Entry is one object of a change set and what was done to it.
type Entry struct {
	Ref    ObjectRef `json:"ref"`
	Action Action    `json:"action"`
}

// ChangeSet lists what an apply or a delete did, object by object, in the
// order the objects were handled.
type ChangeSet struct {
	Entries []Entry `json:"entries"`
}

// Add appends an entry.
func (c *ChangeSet) Add(ref ObjectRef, action Action) {
	c.Entries = append(c.Entries, Entry{Ref: ref, Action: action})
}

// Append adds the entries of other to c.
func (c *ChangeSet) Append(other *ChangeSet) {
	if other != nil {
		c.Entries = append(c.Entries, other.Entries...)
	}
}

// Counts returns how many entries have each action.
func (c *ChangeSet) Counts() map[Action]int {
	counts := map[Action]int{}
	if c == nil {
		return counts
	}
	for _, e := range c.Entries {
		counts[e.Action]++
	}
	return counts
}

// Changed reports whether any object was created, configured, pruned or
// deleted.
func (c *ChangeSet) Changed() bool {
	if c == nil {
		return false
	}
	for _, e := range c.Entries {
		if changes(e.Action) {
			return true
		}
	}
	return false
}

// String lists the objects that changed, such as "Deployment/apps/web
// configured, ConfigMap/app/settings created, Service/app/old pruned".
// Unchanged and skipped objects are left out; it is empty when nothing
// changed.
func (c *ChangeSet) String() string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, e := range c.Entries {
		if changes(e.Action) {
			parts = append(parts, e.Ref.String()+" "+string(e.Action))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary counts the entries by action in a fixed order, such as
// "2 created, 1 configured, 12 unchanged".
func (c *ChangeSet) Summary() string {
	counts := c.Counts()
	var parts []string
	for _, a := range []Action{ActionCreated, ActionConfigured, ActionUnchanged, ActionSkipped, ActionPruned, ActionDeleted} {
		if n := counts[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}

// Find returns the entry for ref (matched by group, kind, namespace and
// name) and whether there is one.
func (c *ChangeSet) Find(ref ObjectRef) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	id := ref.ID()
	for _, e := range c.Entries {
		if e.Ref.ID() == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Refs returns the refs of the entries whose action is one of actions, or
// of every entry when actions is empty.
func (c *ChangeSet) Refs(actions ...Action) []ObjectRef {
	if c == nil {
		return nil
	}
	var refs []ObjectRef
	for _, e := range c.Entries {
		if len(actions) == 0 || containsAction(actions, e.Action) {
			refs = append(refs, e.Ref)
		}
	}
	return refs
}

func containsAction(list []Action, a Action) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func changes(a Action) bool {
	switch a {
	case ActionCreated, ActionConfigured, ActionPruned, ActionDeleted:
		return true
	}
	return false
}

// sortRefs orders refs by their String form so that messages are stable.
func sortRefs(refs []ObjectRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
}
