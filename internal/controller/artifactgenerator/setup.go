package artifactgenerator

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// sourceIndex indexes ArtifactGenerators by the sources they read, as
// "Kind/namespace/name", so that a new artifact wakes exactly those.
const sourceIndex = ".spec.sources"

func sourceKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// SetupWithManager registers the reconciler, its index and its watches:
// the generators themselves, every source kind they may read (on a new
// artifact), and the ExternalArtifacts they own (on deletion, to make
// them again).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &swv1.ArtifactGenerator{}, sourceIndex, func(o client.Object) []string {
		g := o.(*swv1.ArtifactGenerator)
		keys := make([]string, 0, len(g.Spec.Sources))
		for _, s := range g.Spec.Sources {
			keys = append(keys, sourceKey(s.Kind, sourceNamespace(g, s), s.Name))
		}
		return keys
	}); err != nil {
		return fmt.Errorf("index %s: %w", sourceIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&swv1.ArtifactGenerator{}, builder.WithPredicates(predicate.Or(pred, suspendChanged{}))).
		Watches(&sourcev1.ExternalArtifact{},
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &swv1.ArtifactGenerator{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(deleted{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent})
	for _, kind := range []string{sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind, sourcev1.HelmChartKind, sourcev1.ExternalArtifactKind} {
		b = b.Watches(sourceObject(kind), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.readers(ctx, kind, o)
		}), builder.WithPredicates(runtime.ArtifactChangedPredicate{}))
	}
	return b.Named("artifactgenerator").Complete(r)
}

// readers lists the generators that read the source o of kind.
func (r *Reconciler) readers(ctx context.Context, kind string, o client.Object) []reconcile.Request {
	list := &swv1.ArtifactGeneratorList{}
	if err := r.List(ctx, list, client.MatchingFields{sourceIndex: sourceKey(kind, o.GetNamespace(), o.GetName())}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, g := range list.Items {
		if g.IsSuspended() {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&g)})
	}
	return reqs
}

// deleted passes only deletions.
type deleted struct{ predicate.Funcs }

func (deleted) Create(event.CreateEvent) bool   { return false }
func (deleted) Update(event.UpdateEvent) bool   { return false }
func (deleted) Generic(event.GenericEvent) bool { return false }

// suspendChanged passes a generator whose reconcile annotation changed, so
// that resuming it ("Enable", or removing the annotation) reconciles at
// once: annotations do not change the generation.
type suspendChanged struct{ predicate.Funcs }

func (suspendChanged) Update(ev event.UpdateEvent) bool {
	if ev.ObjectOld == nil || ev.ObjectNew == nil {
		return false
	}
	return ev.ObjectOld.GetAnnotations()[swv1.ReconcileAnnotation] != ev.ObjectNew.GetAnnotations()[swv1.ReconcileAnnotation]
}
