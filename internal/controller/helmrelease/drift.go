package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"strings"

	rel "helm.sh/helm/v4/pkg/release/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// DriftedCondition reports whether the cluster differs from the manifest
// of the release: True with DriftDetected (warn mode) or
// DriftCorrectionFailed, False with DriftCorrected once a correction
// restored it. It is removed when no drift is found, and when drift
// detection is disabled.
const DriftedCondition = "Drifted"

// Reasons of drift detection, besides helmv2.DriftDetectedReason.
const (
	DriftCorrectedReason        = "DriftCorrected"
	DriftCorrectionFailedReason = "DriftCorrectionFailed"
	DriftDetectionFailedReason  = "DriftDetectionFailed"
)

// How much of a drift the messages name: so many objects, and so many
// changed fields of each.
const (
	driftSummaryObjects = 10
	driftSummaryFields  = 5
)

// drifted is one object of the release that differs from its manifest.
type drifted struct {
	ref     ssa.ObjectRef
	obj     *unstructured.Unstructured // as the manifest has it
	missing bool
	changes []ssa.FieldChange
}

func (d drifted) String() string {
	if d.missing {
		return d.ref.String() + " missing"
	}
	parts := make([]string, 0, driftSummaryFields+1)
	for i, c := range d.changes {
		if i == driftSummaryFields {
			parts = append(parts, fmt.Sprintf("and %d more", len(d.changes)-i))
			break
		}
		parts = append(parts, c.String())
	}
	return d.ref.String() + " changed (" + strings.Join(parts, ", ") + ")"
}

// reconcileDrift compares the objects of the release in sync, h, with
// the cluster, when spec.driftDetection asks for it. The comparison is
// the shared apply engine's: each object of the manifest is applied in a
// server-side dry-run and the answer compared with the live object, so
// fields the API server defaults or normalizes make no difference, and
// nothing is written. It goes through the identity of the Helm actions
// (the impersonated service account, or spec.kubeConfig). Fields of the
// ignore rules, objects labelled or annotated
// helm.toolkit.fluxcd.io/driftDetection: disabled (in the chart or in the
// cluster), status and fields that others added are left out.
//
// In warn mode a drift sets Drifted and records a DriftDetected warning
// when it is new or different; in enabled mode the drifted and missing
// objects are also applied again (server-side apply as Helm's field
// manager), and DriftCorrected or DriftCorrectionFailed recorded.
func (r *Reconciler) reconcileDrift(ctx context.Context, s *scope, h *rel.Release) error {
	obj := s.obj
	dd := obj.GetDriftDetection()
	if !dd.MustDetectChanges() || h == nil {
		runtime.Delete(obj, DriftedCondition)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout().Duration)
	defer cancel()
	m, desired, err := r.driftManager(s, h)
	if err != nil {
		return runtime.Failed(DriftDetectionFailedReason, fmt.Errorf("drift detection of release %s: %w", fullName(h), err))
	}
	if len(desired) == 0 {
		runtime.Delete(obj, DriftedCondition)
		return nil
	}
	c := m.Client
	opts := ssa.ApplyOptions{Ignore: dd.Ignore}
	diffs, _, diffErr := m.Diff(ctx, desired, opts)
	drifts := excludeLive(ctx, c, driftOf(diffs, desired))
	var detectErr error
	if diffErr != nil {
		detectErr = runtime.Failed(DriftDetectionFailedReason, fmt.Errorf("drift detection of release %s: %w", fullName(h), diffErr))
	}
	if len(drifts) == 0 {
		if detectErr == nil {
			runtime.Delete(obj, DriftedCondition)
		}
		return detectErr
	}
	md := map[string]string{"revision": chartVersion(h)}
	msg := fmt.Sprintf("Cluster state of release %s has drifted from the desired state: %s", fullName(h), summarizeDrift(drifts))
	if dd.GetMode() != helmv2.DriftDetectionEnabled {
		if !runtime.IsTrue(obj, DriftedCondition) || runtime.Message(obj, DriftedCondition) != msg {
			r.eventfMD(obj, md, runtime.SeverityError, helmv2.DriftDetectedReason, "%s", msg)
		}
		runtime.MarkTrue(obj, DriftedCondition, helmv2.DriftDetectedReason, "%s", msg)
		return detectErr
	}
	r.eventfMD(obj, md, runtime.SeverityError, helmv2.DriftDetectedReason, "%s", msg)
	fix := make([]*unstructured.Unstructured, len(drifts))
	for i, d := range drifts {
		fix[i] = d.obj
	}
	cs, err := m.Apply(ctx, fix, opts)
	if err != nil {
		fail := fmt.Sprintf("Failed to correct the cluster state of release %s: %s", fullName(h), err)
		if cs.Changed() {
			fail += "; corrected meanwhile: " + cs.String()
		}
		runtime.MarkTrue(obj, DriftedCondition, DriftCorrectionFailedReason, "%s", fail)
		return errors.Join(runtime.Failed(DriftCorrectionFailedReason, errors.New(fail)), detectErr)
	}
	done := fmt.Sprintf("Cluster state of release %s was corrected: %s", fullName(h), summarizeCorrection(cs, drifts))
	runtime.MarkFalse(obj, DriftedCondition, DriftCorrectedReason, "%s", done)
	r.eventfMD(obj, md, runtime.SeverityInfo, DriftCorrectedReason, "%s", done)
	return detectErr
}

// driftManager returns the apply engine that compares release h with
// the cluster, and the objects of h it compares: those not excluded from
// drift detection. For a release in the controller's cluster, objects
// that the shared watches show unchanged since the last comparison (or
// since Helm applied them, see rememberApplied) cost no request.
func (r *Reconciler) driftManager(s *scope, h *rel.Release) (*ssa.Manager, []*unstructured.Unstructured, error) {
	obj := s.obj
	c, err := s.runner.Client(r.localMapper(obj))
	if err != nil {
		return nil, nil, err
	}
	objs, err := release.Objects(h, c.RESTMapper())
	if err != nil {
		return nil, nil, err
	}
	desired := objs[:0]
	for _, o := range objs {
		if !release.Excluded(o, helmv2.DriftDetectionMetadataKey, helmv2.DriftDetectionDisabledValue) {
			desired = append(desired, o)
		}
	}
	m := &ssa.Manager{Client: c, FieldManager: release.FieldManager(), Cache: r.driftCacheFor(obj)}
	if obj.Spec.KubeConfig == nil && r.Health != nil {
		m.Watched = r.Health
		retainWatches(r.Health, desired)
	}
	return m, desired, nil
}

// rememberApplied records, for drift detection, the objects of release h
// as the install or upgrade that made it has just applied them: Helm
// applied each of them server-side with the field manager that drift
// detection applies with, so a dry-run could only find them equal. The
// first comparison after the action then costs no dry-run, and none
// while the objects stay as they are.
func (r *Reconciler) rememberApplied(s *scope, h *rel.Release) {
	obj := s.obj
	dd := obj.GetDriftDetection()
	if !dd.MustDetectChanges() || h == nil || obj.Spec.KubeConfig != nil ||
		h.ApplyMethod != string(rel.ApplyMethodServerSideApply) {
		return
	}
	m, desired, err := r.driftManager(s, h)
	if err != nil {
		return // the comparison finds and reports it
	}
	_ = m.Remember(desired, ssa.ApplyOptions{Ignore: dd.Ignore}, func(ref ssa.ObjectRef) *unstructured.Unstructured {
		return s.runner.Applied(release.AppliedKey{Group: ref.Group, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name})
	})
}

// retainWatches keeps the shared watch of each kind of objs running, so
// that the next comparisons find the objects unchanged without a request.
// CustomResourceDefinitions are left out: their schemas are large, few,
// and rarely compared.
func retainWatches(w *health.Watcher, objs []*unstructured.Unstructured) {
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Kind == "CustomResourceDefinition" && gvk.Group == apiextensionsv1.GroupName {
			continue
		}
		w.Retain(gvk)
	}
}

// driftCacheFor returns the cache of drift detection for obj's cluster:
// the controller's own one, or none for a remote cluster (spec.kubeConfig),
// whose objects are dry-run at every check.
func (r *Reconciler) driftCacheFor(obj *helmv2.HelmRelease) *ssa.Cache {
	if obj.Spec.KubeConfig != nil {
		return nil
	}
	return r.localDriftCache()
}

func (r *Reconciler) localDriftCache() *ssa.Cache {
	r.driftOnce.Do(func() { r.driftCache = ssa.NewCache() })
	return r.driftCache
}

// forgetDrift drops what drift detection remembers of the objects of
// obj's inventory, once they are uninstalled.
func (r *Reconciler) forgetDrift(obj *helmv2.HelmRelease) {
	if obj.Spec.KubeConfig != nil {
		return
	}
	cache := r.localDriftCache()
	refs, _ := ssa.InventoryRefs(obj.Status.Inventory)
	for _, ref := range refs {
		cache.Forget(ref)
	}
}

// localMapper is the controller's own REST mapper when the release is in
// its cluster, which saves a discovery per reconcile; nil for a remote
// cluster, whose runner discovers.
func (r *Reconciler) localMapper(obj *helmv2.HelmRelease) apimeta.RESTMapper {
	if obj.Spec.KubeConfig != nil {
		return nil
	}
	return r.Mapper
}

// driftOf returns the objects that the diffs show missing or changed,
// changes of their status left out, in the order of desired.
func driftOf(diffs []ssa.ObjectDiff, desired []*unstructured.Unstructured) []drifted {
	byID := map[string]ssa.ObjectDiff{}
	for _, d := range diffs {
		byID[d.Ref.ID()] = d
	}
	var out []drifted
	for _, o := range desired {
		ref := ssa.RefOf(o)
		d, ok := byID[ref.ID()]
		if !ok {
			continue
		}
		switch d.Action {
		case ssa.ActionCreated:
			out = append(out, drifted{ref: d.Ref, obj: o, missing: true})
		case ssa.ActionConfigured:
			var changes []ssa.FieldChange
			for _, c := range d.Changes {
				if !c.Under("/status") {
					changes = append(changes, c)
				}
			}
			if len(changes) > 0 {
				out = append(out, drifted{ref: d.Ref, obj: o, changes: changes})
			}
		}
	}
	return out
}

// excludeLive drops the drifted objects that carry
// helm.toolkit.fluxcd.io/driftDetection: disabled in the cluster (set with
// kubectl rather than in the chart). Only drifted objects are read again,
// by their metadata.
func excludeLive(ctx context.Context, c client.Client, drifts []drifted) []drifted {
	out := drifts[:0]
	for _, d := range drifts {
		if !d.missing {
			live := &metav1.PartialObjectMetadata{}
			live.SetGroupVersionKind(d.ref.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKey{Namespace: d.ref.Namespace, Name: d.ref.Name}, live)
			if err == nil && release.ExcludedMeta(live.Labels, live.Annotations, helmv2.DriftDetectionMetadataKey, helmv2.DriftDetectionDisabledValue) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// summarizeDrift names the drifted objects and what changed in each.
func summarizeDrift(drifts []drifted) string {
	parts := make([]string, 0, driftSummaryObjects+1)
	for i, d := range drifts {
		if i == driftSummaryObjects {
			parts = append(parts, fmt.Sprintf("and %d more objects", len(drifts)-i))
			break
		}
		parts = append(parts, d.String())
	}
	return strings.Join(parts, "; ")
}

// summarizeCorrection names what the correction did to each object.
func summarizeCorrection(cs *ssa.ChangeSet, drifts []drifted) string {
	var parts []string
	for _, e := range cs.Entries {
		if len(parts) == driftSummaryObjects {
			parts = append(parts, fmt.Sprintf("and %d more objects", len(cs.Entries)-driftSummaryObjects))
			break
		}
		parts = append(parts, e.Ref.String()+" "+string(e.Action))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d objects already matched again", len(drifts))
	}
	return strings.Join(parts, ", ")
}
