package alert

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// ProviderIndexKey indexes Alerts by the name of their Provider.
const ProviderIndexKey = ".spec.providerRef.name"

// SourceIndexKey indexes Alerts by "<namespace>/<kind>" of each event
// source, so an event finds the Alerts that may want it without a list of
// every Alert.
const SourceIndexKey = ".spec.eventSources.namespaceKind"

// SourceIndexValue is the SourceIndexKey value for an object.
func SourceIndexValue(namespace, kind string) string { return namespace + "/" + kind }

// IndexAlerts registers the indexes on Alerts; the event server needs
// them whether or not the reconciler runs.
func IndexAlerts(mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(context.Background(), &notificationv1beta3.Alert{}, ProviderIndexKey, func(o client.Object) []string {
		return []string{o.(*notificationv1beta3.Alert).Spec.ProviderRef.Name}
	}); err != nil {
		return fmt.Errorf("index %s: %w", ProviderIndexKey, err)
	}
	if err := idx.IndexField(context.Background(), &notificationv1beta3.Alert{}, SourceIndexKey, func(o client.Object) []string {
		a := o.(*notificationv1beta3.Alert)
		var out []string
		for _, s := range a.Spec.EventSources {
			ns := s.Namespace
			if ns == "" {
				ns = a.Namespace
			}
			out = append(out, SourceIndexValue(ns, s.Kind))
		}
		return out
	}); err != nil {
		return fmt.Errorf("index %s: %w", SourceIndexKey, err)
	}
	return nil
}

// SetupWithManager registers the reconciler; a change of a Provider,
// status included, reconciles the Alerts that name it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&notificationv1beta3.Alert{}, builder.WithPredicates(pred)).
		Watches(&notificationv1beta3.Provider{}, handler.EnqueueRequestsFromMapFunc(r.alertsOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}

func (r *Reconciler) alertsOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &notificationv1beta3.AlertList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{ProviderIndexKey: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list Alerts of Provider", "provider", client.ObjectKeyFromObject(o))
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return out
}
