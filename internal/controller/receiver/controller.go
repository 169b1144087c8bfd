// Package receiver reconciles Receiver objects: it checks the spec, reads
// the token from the referenced Secret and publishes the webhook path in
// status.webhookPath, where the webhook server (internal/receiver) answers.
package receiver

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/receiver"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles Receiver objects.
type Reconciler struct {
	client.Client
	// APIReader reads the token Secrets from the API server.
	APIReader client.Reader
	Recorder  *runtime.Recorder
	Metrics   *runtime.Metrics
	// NoCrossNamespaceRefs stalls Receivers that name objects in other
	// namespaces.
	NoCrossNamespaceRefs bool
	// TokenRequeue is how soon a Receiver whose Secret is missing looks
	// again.
	TokenRequeue time.Duration
}

// Reconcile publishes one Receiver's webhook path.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &notificationv1.Receiver{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	prevPath := obj.Status.WebhookPath
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, notificationv1.ReceiverKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}
	defer func() {
		summarize(obj, retErr)
		r.announce(obj, retErr, before, prevPath)
		result, retErr = runtime.Ending{Kind: notificationv1.ReceiverKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
	}()
	return ctrl.Result{}, r.reconcilePath(ctx, obj)
}

// reconcilePath checks the spec and computes the webhook path from the
// token.
func (r *Reconciler) reconcilePath(ctx context.Context, obj *notificationv1.Receiver) error {
	if msg := receiver.Unsupported(obj.Spec.Type); msg != "" {
		obj.Status.WebhookPath = ""
		return runtime.Stallingf(meta.InvalidSpecReason, "%s", msg)
	}
	if err := receiver.Validate(obj, r.NoCrossNamespaceRefs); err != nil {
		return runtime.Stalling(notificationv1.ValidationFailedReason, err)
	}
	secret, err := receiver.Credentials(ctx, r.APIReader, obj)
	if err != nil {
		// The old path stops working: the server recomputes it from the
		// token it reads, and finds none.
		obj.Status.WebhookPath = ""
		return runtime.Waiting(notificationv1.TokenNotFoundReason, r.tokenRequeue(obj), err)
	}
	obj.Status.WebhookPath = obj.WebhookPath(string(secret["token"]))
	return nil
}

func (r *Reconciler) tokenRequeue(obj *notificationv1.Receiver) time.Duration {
	if r.TokenRequeue > 0 {
		return r.TokenRequeue
	}
	return obj.GetRequeueAfter()
}

// reconcileDelete removes the finalizer: a Receiver leaves nothing behind.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *notificationv1.Receiver) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, meta.Finalizer) {
		return ctrl.Result{}, nil
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(obj, meta.Finalizer)
	r.Metrics.Forget(notificationv1.ReceiverKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
