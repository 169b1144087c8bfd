package helmrepository

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

// SetupWithManager registers the reconciler and indexes HelmRepositories
// by URL, for HelmCharts that look a dependency's repository up by it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sourcev1.HelmRepository{}, sourcev1.HelmRepositoryURLIndexKey,
		func(o client.Object) []string { return []string{o.(*sourcev1.HelmRepository).Spec.URL} }); err != nil {
		return fmt.Errorf("index %s: %w", sourcev1.HelmRepositoryURLIndexKey, err)
	}
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&sourcev1.HelmRepository{}, builder.WithPredicates(pred)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}

// reconcileDelete removes the object's artifacts, then its finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *sourcev1.HelmRepository) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		return ctrl.Result{}, nil
	}
	ref := artifact.RefFor(sourcev1.HelmRepositoryKind, obj)
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
	r.Metrics.Forget(sourcev1.HelmRepositoryKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
