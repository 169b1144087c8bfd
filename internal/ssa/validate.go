package ssa

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// validate reads each item's live object, builds what is sent and
// dry-runs it. Items in a namespace that the apply creates, or of a type
// it defines, are deferred to their stage. It returns the rejections.
func (m *Manager) validate(ctx context.Context, items []*item, namespaces map[string]bool) []*ObjectError {
	var mu sync.Mutex
	var failures []*ObjectError
	forEach(ctx, m.concurrency(), items, func(ctx context.Context, it *item) {
		if err := m.validateOne(ctx, it, namespaces); err != nil {
			mu.Lock()
			failures = append(failures, &ObjectError{Ref: it.ref, Err: conciseError(err)})
			mu.Unlock()
		}
	})
	return failures
}

func (m *Manager) validateOne(ctx context.Context, it *item, namespaces map[string]bool) error {
	if it.mapping == nil {
		return fmt.Errorf("the API server does not serve %s, and no CRD in this apply defines kind %s", it.obj.GetAPIVersion(), it.ref.Kind)
	}
	if it.unchecked {
		it.unchecked = false
		if !it.liveKnown {
			if err := m.readLive(ctx, it); err != nil {
				return err
			}
			it.liveKnown = true
		}
		if !it.decided && it.live == nil && it.liveMeta == nil {
			it.unchecked, it.config = true, it.obj
			return nil // to be created: its write validates it
		}
		// It exists: validated as the others are.
	}
	var probed *unstructured.Unstructured
	var rejected error
	if !it.liveKnown {
		var err error
		probed, rejected, err = m.probe(ctx, it, namespaces)
		if err != nil || it.deferred || it.decided || it.dryRun != nil {
			return err
		}
	}
	if err := m.readLive(ctx, it); err != nil {
		return err
	}
	if it.decided {
		return nil // the live object asks to be left alone
	}
	if rejected != nil && it.live == nil {
		return rejected // invalid as a new object
	}
	if it.live != nil && m.Cache.hit(it.ref, it.digest, it.live) {
		it.decide(ActionUnchanged)
		return nil
	}
	it.config = withLiveValues(it.obj, it.live, it.ignore)
	if it.live != nil && it.mode == kustomizev1.SSAOverride {
		it.cleanup = needsCleanup(it.live, m.FieldManager)
	}
	if probed != nil && it.config == it.obj && it.live != nil && probed.GetResourceVersion() == it.live.GetResourceVersion() {
		// The probe sent the same object to the same live object.
		it.dryRun = probed
		return nil
	}
	var dry *unstructured.Unstructured
	var err error
	if rejected != nil && it.config == it.obj {
		err = rejected // the probe sent this very object
	} else {
		dry, err = m.applyObject(ctx, it.config, true, false)
	}
	switch {
	case err == nil:
		it.dryRun = dry
	case namespaces[it.ref.Namespace] && isNamespaceNotFound(err, it.ref.Namespace):
		it.deferred = true
	case it.live != nil && apierrors.IsInvalid(err) && m.recreatable(ctx, it):
		// Valid as a new object, so the change is to a field that
		// cannot change in place.
		if it.force {
			it.recreate = true
			return nil
		}
		return fmt.Errorf("%w (an immutable field changed: set %s: %s, or spec.force, to recreate the object)", conciseError(err), kustomizev1.ForceAnnotation, kustomizev1.ForceEnabled)
	default:
		return err
	}
	return nil
}

// probe dry-runs an item whose existence no List told, as the object
// stands in the manifests, and learns from the answer whether it exists:
// the API server answers for an object it would create without a
// resourceVersion, and for one that exists with its live resourceVersion.
// An absent object is then validated (it.dryRun is set) at the cost of
// that one request. For an object that exists, probe returns the answer
// (probed) for validateOne to go on with the live object, which it reads.
// A rejection as invalid is returned apart (rejected): whether it is final
// depends on whether the object exists (an immutable field may have
// changed), which only its read tells.
func (m *Manager) probe(ctx context.Context, it *item, namespaces map[string]bool) (probed *unstructured.Unstructured, rejected, err error) {
	dry, err := m.applyObject(ctx, it.obj, true, false)
	switch {
	case err == nil && dry.GetResourceVersion() == "":
		it.liveKnown, it.liveMeta, it.live = true, nil, nil
		it.config, it.dryRun = it.obj, dry
		return nil, nil, nil
	case err == nil && it.mode == kustomizev1.SSAIfNotPresent:
		it.decide(ActionSkipped)
		return nil, nil, nil
	case err == nil:
		return dry, nil, nil
	case namespaces[it.ref.Namespace] && isNamespaceNotFound(err, it.ref.Namespace):
		it.deferred = true
		return nil, nil, nil
	case apierrors.IsInvalid(err):
		return nil, err, nil
	default:
		return nil, nil, err
	}
}

// readLive reads the full live object of an item, when it exists, and
// re-checks the switches that the live object can carry.
func (m *Manager) readLive(ctx context.Context, it *item) error {
	if it.liveKnown && it.liveMeta == nil {
		return nil
	}
	if it.live != nil { // listed in full
		if it.mode == kustomizev1.SSAIfNotPresent {
			it.decide(ActionSkipped)
		}
		return nil
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(it.ref.GroupVersionKind())
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: it.ref.Namespace, Name: it.ref.Name}, live)
	switch {
	case apierrors.IsNotFound(err):
		it.liveMeta, it.live = nil, nil
		return nil
	case err != nil:
		return fmt.Errorf("read live object: %w", err)
	}
	it.live, it.liveMeta = live, live
	if excluded(live.GetLabels(), live.GetAnnotations()) || it.mode == kustomizev1.SSAIfNotPresent {
		it.decide(ActionSkipped)
	}
	return nil
}

// recreatable reports whether the desired object would be accepted by a
// create, so that deleting the live one to recreate it is safe: a create
// dry-run that fails only because the object exists has passed
// validation and admission.
func (m *Manager) recreatable(ctx context.Context, it *item) bool {
	u := it.obj.DeepCopy()
	err := m.Client.Create(ctx, u, client.DryRunAll, client.FieldOwner(m.FieldManager))
	return apierrors.IsAlreadyExists(err)
}

func isNamespaceNotFound(err error, namespace string) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == namespace
}

// pickUnchecked chooses the object of an apply that is not dry-run: the
// largest (the dearest to validate) of the objects to create in the first
// stage that writes. Its write comes before any other, once every other
// object has passed its dry-run, so that it is validated by its own write
// and a rejection still leaves the cluster untouched. This saves one
// request in every apply that creates objects, a third of those of a
// new Kustomization of one object.
//
// Only an object whose absence is known or can be learned (a read costs
// less than a dry-run) is chosen, and only when allowed: not when the
// apply defines CRDs or Namespaces, whose objects are validated in their
// own stage after earlier writes.
func pickUnchecked(now []*item, allowed bool) *item {
	if !allowed || len(now) == 0 {
		return nil
	}
	first := now[0].stage
	for _, it := range now {
		first = min(first, it.stage)
	}
	var pick *item
	for _, it := range now {
		if it.stage != first || it.decided || it.mapping == nil || it.liveMeta != nil {
			continue
		}
		if pick == nil || it.size > pick.size {
			pick = it
		}
	}
	if pick != nil {
		pick.unchecked = true
	}
	return pick
}

// writeUnchecked writes the object that pickUnchecked chose, the first
// write of the apply. A rejection by the API server is a
// *ValidationError: nothing was written.
func (m *Manager) writeUnchecked(ctx context.Context, it *item) error {
	err := m.writeOne(ctx, it)
	if err == nil {
		return nil
	}
	failures := []*ObjectError{{Ref: it.ref, Err: conciseError(err)}}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 400 && status.Status().Code < 500 {
		return &ValidationError{Stage: StageClusterDefinitions, Failures: failures}
	}
	return &ApplyError{Stage: it.stage, Failures: failures}
}
