package helmrelease

import (
	"sort"

	rel "helm.sh/helm/v4/pkg/release/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// InventoryFailedReason is the reason of the warning recorded when the
// objects of a release cannot be listed in status.inventory.
const InventoryFailedReason = "InventoryBuildFailed"

// setInventory records in status.inventory the objects of release h: those
// of its manifest, and the CustomResourceDefinitions of its chart's crds/
// directory unless installs skip them. Entries are
// "<namespace>_<name>_<group>_<kind>" with the API version, sorted, as a
// Kustomization's. A release that is gone (nil, or uninstalled) has no
// inventory. When the objects cannot be listed, the inventory stays as it
// was and a warning says why.
func (r *Reconciler) setInventory(s *scope, h *rel.Release) {
	obj := s.obj
	if h == nil || h.Info == nil || h.Info.Status.String() == "uninstalled" {
		obj.Status.Inventory = nil
		return
	}
	mapper := r.localMapper(obj)
	if mapper == nil {
		var err error
		if mapper, err = s.runner.Mapper(); err != nil {
			r.eventf(obj, runtime.SeverityError, InventoryFailedReason, "list the objects of release %s: %s", fullName(h), err)
			return
		}
	}
	objs, err := release.Objects(h, mapper)
	if err != nil {
		r.eventf(obj, runtime.SeverityError, InventoryFailedReason, "list the objects of release %s: %s", fullName(h), err)
		return
	}
	install := obj.GetInstall()
	if !install.SkipCRDs && install.CRDs != helmv2.Skip {
		crds, err := release.CRDObjects(h)
		if err != nil {
			r.eventf(obj, runtime.SeverityError, InventoryFailedReason, "list the objects of release %s: %s", fullName(h), err)
			return
		}
		objs = append(objs, crds...)
	}
	inv := &meta.ResourceInventory{Entries: []meta.ResourceRef{}}
	seen := map[string]bool{}
	for _, o := range objs {
		ref := ssa.RefOf(o)
		if seen[ref.ID()] {
			continue
		}
		seen[ref.ID()] = true
		inv.Entries = append(inv.Entries, meta.ResourceRef{ID: ref.ID(), Version: ref.Version})
	}
	sort.Slice(inv.Entries, func(i, j int) bool { return inv.Entries[i].ID < inv.Entries[j].ID })
	obj.Status.Inventory = inv
}
