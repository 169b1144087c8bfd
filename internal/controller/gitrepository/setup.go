package gitrepository

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// includeIndex indexes GitRepositories by the names they include, so that
// a new artifact of one reconciles those that include it.
const includeIndex = ".spec.include.repository.name"

// SetupWithManager registers the reconciler and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.GitRepository{}, includeIndex, func(o client.Object) []string {
		var names []string
		for _, inc := range o.(*sourcev1.GitRepository).Spec.Include {
			names = append(names, inc.GitRepositoryRef.Name)
		}
		return names
	}); err != nil {
		return fmt.Errorf("index %s: %w", includeIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&sourcev1.GitRepository{}, builder.WithPredicates(pred)).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.includers),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}

// includers lists the GitRepositories that include obj.
func (r *Reconciler) includers(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &sourcev1.GitRepositoryList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{includeIndex: obj.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, o := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
	}
	return reqs
}

// reconcileDelete removes the object's artifacts, then its finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *sourcev1.GitRepository) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		return ctrl.Result{}, nil
	}
	ref := artifact.RefFor(sourcev1.GitRepositoryKind, obj)
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
	r.Metrics.Forget(sourcev1.GitRepositoryKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
