// Package provider reconciles Providers: it checks that the spec and the
// Secrets it names make a Notifier that can deliver, and reports so in
// Ready. The deliveries themselves happen when events arrive (see
// internal/controller/notification), with the Provider as it is then.
package provider

import (
	"context"
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles Provider objects.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets, which the cache does not hold.
	APIReader client.Reader
	Metrics   *runtime.Metrics
	Settings  Settings
	// SecretRequeue is how soon a Provider whose Secret is missing checks
	// again (--requeue-dependency).
	SecretRequeue time.Duration
}

// Reconcile checks one Provider.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &notificationv1beta3.Provider{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		r.Metrics.Forget(notificationv1beta3.ProviderKind, obj.Namespace, obj.Name)
		return ctrl.Result{}, nil
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	runtime.HandleRequest(obj)
	defer func() {
		result, retErr = runtime.Ending{Kind: notificationv1beta3.ProviderKind, Metrics: r.Metrics, Start: start, Patcher: patcher, Suspended: obj.Spec.Suspend}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
	}()
	if obj.Spec.Suspend {
		runtime.MarkFalse(obj, meta.ReadyCondition, meta.SuspendedReason, "Provider is suspended: events for it are dropped until spec.suspend is unset")
		runtime.Delete(obj, meta.ReconcilingCondition)
		runtime.Delete(obj, meta.StalledCondition)
		return ctrl.Result{}, nil
	}
	err = r.check(ctx, obj)
	if err != nil {
		runtime.MarkOutcome(obj, err, meta.FailedReason)
		return ctrl.Result{}, err
	}
	runtime.MarkReady(obj, meta.SucceededReason, "Provider of type %s is ready to deliver", obj.Spec.Type)
	return ctrl.Result{}, nil
}

// check builds the Notifier once, which reads every Secret and validates
// every field, and classifies what went wrong.
func (r *Reconciler) check(ctx context.Context, obj *notificationv1beta3.Provider) error {
	_, err := Build(ctx, r.APIReader, obj, nil, r.Settings)
	var secretErr *SecretError
	switch {
	case err == nil:
		return nil
	case IsConfigError(err):
		return runtime.Stalling(notificationv1.InvalidConfigReason, err)
	case errors.As(err, &secretErr):
		return runtime.Waiting(meta.DependencyNotReadyReason, r.SecretRequeue, err)
	default:
		return runtime.Failed(meta.FailedReason, err)
	}
}
