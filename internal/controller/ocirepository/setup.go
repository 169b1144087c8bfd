package ocirepository

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// SetupWithManager registers the reconciler and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&sourcev1.OCIRepository{}, builder.WithPredicates(pred)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}

// reconcileDelete removes the object's artifacts, then its finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *sourcev1.OCIRepository) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		return ctrl.Result{}, nil
	}
	ref := artifact.RefFor(sourcev1.OCIRepositoryKind, obj)
	unlock := r.Storage.Lock(ref)
	err := r.Storage.Remove(ref)
	unlock()
	if err != nil {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, fmt.Errorf("remove artifacts of %s: %w", ref, err)
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(obj, sourcev1.SourceFinalizer)
	r.Metrics.Forget(sourcev1.OCIRepositoryKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
