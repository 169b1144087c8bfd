package helmchart

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// sourceIndex indexes HelmCharts by "<kind>/<name>" of their source, so
// that a new source artifact reconciles the charts built from it.
const sourceIndex = ".spec.sourceRef"

// SetupWithManager registers the reconciler and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sourcev1.HelmChart{}, sourceIndex, func(o client.Object) []string {
		ref := o.(*sourcev1.HelmChart).Spec.SourceRef
		return []string{ref.Kind + "/" + ref.Name}
	}); err != nil {
		return fmt.Errorf("index %s: %w", sourceIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	if opts.WatchLabelSelector != "" {
		// ReconcilePredicate parsed it already.
		r.shard, _ = labels.Parse(opts.WatchLabelSelector)
	}
	if r.Indexes == nil {
		r.Indexes = helm.NewIndexCache(helm.DefaultIndexCacheSize)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&sourcev1.HelmChart{}, builder.WithPredicates(pred)).
		Watches(&sourcev1.HelmRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.HelmRepositoryKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.GitRepositoryKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		Watches(&sourcev1.Bucket{}, handler.EnqueueRequestsFromMapFunc(r.chartsOf(sourcev1.BucketKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}

// chartsOf lists the HelmCharts of this shard built from a source of kind.
func (r *Reconciler) chartsOf(kind string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &sourcev1.HelmChartList{}
		opts := []client.ListOption{client.InNamespace(obj.GetNamespace()),
			client.MatchingFields{sourceIndex: kind + "/" + obj.GetName()}}
		if r.shard != nil {
			opts = append(opts, client.MatchingLabelsSelector{Selector: r.shard})
		}
		if err := r.List(ctx, list, opts...); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, o := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
		}
		return reqs
	}
}

// reconcileDelete removes the object's artifacts, then its finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *sourcev1.HelmChart) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		return ctrl.Result{}, nil
	}
	ref := artifact.RefFor(sourcev1.HelmChartKind, obj)
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
	r.Metrics.Forget(sourcev1.HelmChartKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
