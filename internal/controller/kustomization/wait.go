package kustomization

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// waitSummaryLimit is how many objects the message of a wait names.
const waitSummaryLimit = 5

// healthWait is the outcome of a reconcile that applied (or had applied)
// its objects and waits for them: no failure, Ready=Unknown, and the
// Kustomization is reconciled again when one of the objects changes or
// spec.timeout runs out.
type healthWait struct{ msg string }

func (e *healthWait) Error() string { return e.msg }

func isHealthWait(err error) bool {
	var w *healthWait
	return errors.As(err, &w)
}

// markWaiting records a wait in progress: Ready=Unknown and
// Reconciling=True, both naming what is still waited for.
func markWaiting(obj *kustomizev1.Kustomization, err error) {
	runtime.MarkTrue(obj, meta.ReconcilingCondition, meta.ProgressingReason, "%s", err.Error())
	runtime.MarkUnknown(obj, meta.ReadyCondition, meta.ProgressingReason, "%s", err.Error())
	runtime.Delete(obj, meta.StalledCondition)
}

// markWaitStart records when the wait in progress began as the transition
// time of Healthy=Unknown, so that a restarted controller knows how much
// of spec.timeout is left.
func markWaitStart(obj *kustomizev1.Kustomization, started time.Time) {
	if started.IsZero() {
		return
	}
	for i := range obj.Status.Conditions {
		c := &obj.Status.Conditions[i]
		if c.Type == meta.HealthyCondition && c.Status == metav1.ConditionUnknown {
			c.LastTransitionTime = metav1.NewTime(started.Truncate(time.Second))
		}
	}
}

// waitToken names what a health wait is for: the build inputs, the spec
// (its generation) and the cluster and identity applied to. A reconcile
// with the same token finds its objects applied already.
func waitToken(s *scope) string {
	return fmt.Sprintf("%s/%d/%s", s.buildKey, s.obj.Generation, s.target)
}

// alreadyWaiting reports whether the objects of this build and spec were
// applied and are being waited for, so that this reconcile only looks at
// their health: a notification from the health watches, a requested
// reconcile during the wait, or a controller restarted during it (the
// status then says so: Healthy=Unknown at this generation, with this
// revision applied).
func (r *Reconciler) alreadyWaiting(s *scope) bool {
	obj := s.obj
	if r.Health == nil || obj.Spec.KubeConfig != nil {
		return false
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	if token, ok := r.Health.Token(key); ok {
		return token == waitToken(s)
	}
	h := runtime.Get(obj, meta.HealthyCondition)
	return h != nil && h.Status == metav1.ConditionUnknown && h.Reason == meta.ProgressingReason &&
		h.ObservedGeneration == obj.Generation && s.before.ObservedGeneration == obj.Generation &&
		s.before.LastAppliedRevision == s.revision && s.before.Inventory != nil
}

// reconcileHealth checks the health of what was applied: every object with
// spec.wait, the listed ones with spec.healthChecks. It holds no worker:
// the wait is registered with the health watches, and the reconcile ends
// with a healthWait until every object is Current, one has Failed, or
// spec.timeout has passed since the apply. A reconcile that applied
// nothing new to objects that were healthy checks nothing.
func (r *Reconciler) reconcileHealth(ctx context.Context, s *scope) error {
	obj := s.obj
	if r.Health == nil || obj.Spec.KubeConfig != nil {
		return r.reconcileHealthBlocking(ctx, s)
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	spec := health.Spec{Checks: obj.Spec.HealthCheckExprs, Token: waitToken(s)}
	_, inMemory := r.Health.Token(key)
	switch {
	case s.resumed && inMemory:
		// The wait in progress knows its objects; the status this
		// reconcile read may not show the last apply yet.
		obj.Status.LastAppliedRevision = s.revision
	case s.resumed:
		// A controller restarted during the wait: the inventory and the
		// Healthy condition say what and since when.
		refs, err := ssa.InventoryRefs(obj.Status.Inventory)
		if err != nil {
			return runtime.Failed(meta.HealthCheckFailedReason, fmt.Errorf("status.inventory: %w", err))
		}
		cs := &ssa.ChangeSet{}
		for _, ref := range refs {
			cs.Add(ref, ssa.ActionUnchanged)
		}
		spec.Targets = targetsOf(obj, cs, nil)
		if h := runtime.Get(obj, meta.HealthyCondition); h != nil {
			spec.Started = h.LastTransitionTime.Time
		}
	default:
		spec.Targets = targetsOf(obj, s.changes, s.manager.Cache)
		if !s.changes.Changed() && healthyAt(s, obj.Generation) {
			// Nothing changed, neither in Git nor in the cluster (an
			// object changed there is applied again): the objects are
			// as healthy as they were.
			r.Health.Stop(key)
			return nil
		}
	}
	if !(s.resumed && inMemory) && len(spec.Targets) == 0 {
		r.Health.Stop(key)
		runtime.Delete(obj, meta.HealthyCondition)
		return nil
	}
	if err := r.Health.Start(key, spec); err != nil {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.healthCheckExprs: %s", err)
	}
	res, _ := r.Health.Check(key)
	timeout := obj.GetTimeout()
	left := timeout - time.Since(res.Started)
	var herr *ssa.HealthError
	switch {
	case len(res.Failed) > 0:
		herr = &ssa.HealthError{Objects: res.Failed, Failed: true}
	case res.Healthy():
		r.Health.Stop(key)
		runtime.MarkTrue(obj, meta.HealthyCondition, meta.SucceededReason, "all health checks passed")
		return nil
	case left <= 0:
		herr = &ssa.HealthError{Objects: res.Pending, Err: context.DeadlineExceeded}
	}
	if herr != nil {
		r.Health.Stop(key)
		runtime.MarkFalse(obj, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", herr)
		return runtime.Failed(meta.HealthCheckFailedReason, fmt.Errorf("health check of revision %s failed (spec.timeout %s): %w", s.revision, timeout, herr))
	}
	s.waitStarted = res.Started
	msg := "waiting for " + health.Summary(res.Pending, waitSummaryLimit)
	runtime.MarkUnknown(obj, meta.HealthyCondition, meta.ProgressingReason, "%s", msg)
	return runtime.Waiting(meta.ProgressingReason, left, &healthWait{msg: msg})
}

// targetsOf returns the objects to wait for, as health targets: the ones
// this Kustomization applied carry its labels; with cache, each with the
// resourceVersion its apply left.
func targetsOf(obj *kustomizev1.Kustomization, cs *ssa.ChangeSet, cache *ssa.Cache) []health.Target {
	refs := healthRefs(obj, cs)
	applied := map[string]bool{}
	for _, e := range cs.Entries {
		applied[e.Ref.ID()] = true
	}
	targets := make([]health.Target, len(refs))
	for i, ref := range refs {
		targets[i] = health.Target{Ref: ref, Unlabelled: !applied[ref.ID()], ResourceVersion: cache.ResourceVersion(ref)}
	}
	return targets
}

// healthyAt reports whether the reconcile started with its objects
// healthy at this revision and generation.
func healthyAt(s *scope, generation int64) bool {
	if s.before.LastAppliedRevision != s.revision || s.before.ObservedGeneration != generation {
		return false
	}
	for _, c := range s.before.Conditions {
		if c.Type == meta.HealthyCondition {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
		}
	}
	return false
}

// reconcileHealthBlocking waits within the reconcile until what was
// applied is healthy; it serves the Kustomizations of remote clusters
// (spec.kubeConfig), whose objects the shared watches do not see. A new
// source revision cancels the wait.
func (r *Reconciler) reconcileHealthBlocking(ctx context.Context, s *scope) error {
	obj := s.obj
	refs := healthRefs(obj, s.changes)
	if len(refs) == 0 {
		runtime.Delete(obj, meta.HealthyCondition)
		return nil
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	waitCtx, cancel := context.WithCancel(ctx)
	r.waits.Store(key, cancel)
	defer func() {
		r.waits.Delete(key)
		cancel()
	}()
	// A revision that arrived before the wait was registered found nothing
	// to cancel: look once more now that it is.
	if r.sourceMoved(ctx, s) {
		cancel()
	}
	runtime.MarkUnknown(obj, meta.HealthyCondition, meta.ProgressingReason, "running health checks with a timeout of %s", obj.GetTimeout())
	runtime.MarkReconciling(obj, meta.ProgressingReason, "checking the health of %d objects of revision %s", len(refs), s.revision)
	if err := s.patcher.Patch(ctx, obj); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "cannot record that health checks are running")
	}
	err := s.manager.Wait(waitCtx, refs, obj.GetTimeout(), obj.Spec.HealthCheckExprs)
	if err == nil {
		runtime.MarkTrue(obj, meta.HealthyCondition, meta.SucceededReason, "all health checks passed")
		return nil
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		msg := fmt.Errorf("health checks of revision %s cancelled: a new revision of the source arrived", s.revision)
		runtime.MarkUnknown(obj, meta.HealthyCondition, meta.ProgressingReason, "%s", msg)
		return runtime.Waiting(meta.ProgressingReason, 0, msg)
	}
	runtime.MarkFalse(obj, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", err)
	return runtime.Failed(meta.HealthCheckFailedReason, fmt.Errorf("health check of revision %s failed: %w", s.revision, err))
}

// sourceMoved reports whether the source now has an artifact other than
// the one this reconcile applied.
func (r *Reconciler) sourceMoved(ctx context.Context, s *scope) bool {
	src, err := newSource(s.obj.Spec.SourceRef.Kind)
	if err != nil {
		return false
	}
	if err := r.Get(ctx, ctrlKey(s.obj.GetSourceNamespace(), s.obj.Spec.SourceRef.Name), src); err != nil {
		return false
	}
	art := src.GetArtifact()
	return art != nil && s.handle != nil && art.Digest != s.handle.Digest
}

func ctrlKey(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
