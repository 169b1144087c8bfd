package provider

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts runtime.Options) error {
	pred, err := runtime.ReconcilePredicate(opts.WatchLabelSelector)
	if err != nil {
		return err
	}
	if r.SecretRequeue <= 0 {
		r.SecretRequeue = opts.RequeueDependency
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&notificationv1beta3.Provider{}, builder.WithPredicates(pred)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.Concurrent}).
		Complete(r)
}
