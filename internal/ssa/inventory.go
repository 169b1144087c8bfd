package ssa

import (
	"fmt"
	"sort"

	"github.com/gotk-dev/gotk/api/meta"
)

// Inventory returns the inventory that records the objects of an apply's
// change set, in the format of a Kustomization's status.inventory. Every
// applied object is recorded, skipped ones too (they stay owned, so they are
// never mistaken for stale), and pruned or deleted ones are left out. The
// entries are sorted by ID.
func Inventory(cs *ChangeSet) *meta.ResourceInventory {
	inv := &meta.ResourceInventory{Entries: []meta.ResourceRef{}}
	if cs == nil {
		return inv
	}
	seen := map[string]bool{}
	for _, e := range cs.Entries {
		if e.Action == ActionPruned || e.Action == ActionDeleted {
			continue
		}
		id := e.Ref.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		inv.Entries = append(inv.Entries, meta.ResourceRef{ID: id, Version: e.Ref.Version})
	}
	sort.Slice(inv.Entries, func(i, j int) bool { return inv.Entries[i].ID < inv.Entries[j].ID })
	return inv
}

// InventoryRefs returns the objects an inventory lists. It fails on the
// first entry whose ID is not in the "<namespace>_<name>_<group>_<kind>"
// format.
func InventoryRefs(inv *meta.ResourceInventory) ([]ObjectRef, error) {
	if inv == nil {
		return nil, nil
	}
	refs := make([]ObjectRef, 0, len(inv.Entries))
	for _, e := range inv.Entries {
		ref, err := refFromEntry(e)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// Diff returns the objects that the old inventory lists and the new one
// does not: the stale objects that a prune deletes. An object whose API
// version changed between the two is not stale. The result follows the
// order of the old inventory.
func Diff(old, new *meta.ResourceInventory) ([]ObjectRef, error) {
	if old == nil {
		return nil, nil
	}
	keep := map[string]bool{}
	if new != nil {
		for _, e := range new.Entries {
			keep[e.ID] = true
		}
	}
	var stale []ObjectRef
	for _, e := range old.Entries {
		if keep[e.ID] {
			continue
		}
		ref, err := refFromEntry(e)
		if err != nil {
			return nil, err
		}
		stale = append(stale, ref)
	}
	return stale, nil
}

func refFromEntry(e meta.ResourceRef) (ObjectRef, error) {
	ns, name, group, kind, ok := meta.ParseResourceID(e.ID)
	if !ok {
		return ObjectRef{}, fmt.Errorf("inventory entry %q: not in the <namespace>_<name>_<group>_<kind> format", e.ID)
	}
	return ObjectRef{Group: group, Version: e.Version, Kind: kind, Namespace: ns, Name: name}, nil
}
