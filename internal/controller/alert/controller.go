// Package alert reconciles Alerts: it checks that the Provider they name
// exists and is ready, that their filters compile and that their event
// sources are allowed, and reports so in Ready. The matching of events
// happens as they arrive (see internal/controller/notification).
package alert

import (
	"context"
	"fmt"
	"regexp"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// ProviderNotFoundReason: the Provider that spec.providerRef names does
// not exist.
const ProviderNotFoundReason = "ProviderNotFound"

// Reconciler reconciles Alert objects.
type Reconciler struct {
	client.Client
	Metrics *runtime.Metrics
	// NoCrossNamespaceRefs refuses event sources in other namespaces.
	NoCrossNamespaceRefs bool
}

// Reconcile checks one Alert.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &notificationv1beta3.Alert{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		r.Metrics.Forget(notificationv1beta3.AlertKind, obj.Namespace, obj.Name)
		return ctrl.Result{}, nil
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	runtime.HandleRequest(obj)
	defer func() {
		result, retErr = runtime.Ending{Kind: notificationv1beta3.AlertKind, Metrics: r.Metrics, Start: start, Patcher: patcher, Suspended: obj.Spec.Suspend}.
			Finish(ctx, obj, retErr, 0)
	}()
	if obj.Spec.Suspend {
		runtime.MarkFalse(obj, meta.ReadyCondition, meta.SuspendedReason, "Alert is suspended: its events are dropped until spec.suspend is unset")
		runtime.Delete(obj, meta.ReconcilingCondition)
		runtime.Delete(obj, meta.StalledCondition)
		return ctrl.Result{}, nil
	}
	if err := Validate(obj, r.NoCrossNamespaceRefs); err != nil {
		runtime.MarkOutcome(obj, err, notificationv1.InvalidConfigReason)
		return ctrl.Result{}, err
	}
	if msg, reason, ok, err := r.providerReady(ctx, obj); err != nil {
		return ctrl.Result{}, err
	} else if !ok {
		// Not an error to retry: the Provider's watch brings the Alert
		// back when it changes.
		runtime.MarkFalse(obj, meta.ReadyCondition, reason, "%s", msg)
		runtime.Delete(obj, meta.ReconcilingCondition)
		runtime.Delete(obj, meta.StalledCondition)
		return ctrl.Result{}, nil
	}
	runtime.MarkReady(obj, meta.SucceededReason, "Alert forwards events to Provider %s", obj.Spec.ProviderRef.Name)
	return ctrl.Result{}, nil
}

// providerReady reports whether the Provider exists, is not suspended and
// is Ready; when not, it says why.
func (r *Reconciler) providerReady(ctx context.Context, obj *notificationv1beta3.Alert) (string, string, bool, error) {
	name := obj.Spec.ProviderRef.Name
	p := &notificationv1beta3.Provider{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("Provider %s/%s named by spec.providerRef not found", obj.Namespace, name), ProviderNotFoundReason, false, nil
		}
		return "", "", false, err
	}
	if p.Spec.Suspend {
		return fmt.Sprintf("Provider %s/%s is suspended", obj.Namespace, name), meta.DependencyNotReadyReason, false, nil
	}
	ready := runtime.Get(p, meta.ReadyCondition)
	if ready != nil && ready.Status == metav1.ConditionFalse && p.Status.ObservedGeneration == p.Generation {
		return fmt.Sprintf("Provider %s/%s is not ready: %s", obj.Namespace, name, ready.Message), meta.DependencyNotReadyReason, false, nil
	}
	return "", "", true, nil
}

// Validate checks what of an Alert no retry can fix: its regular
// expressions, and with noCrossNamespaceRefs, event sources in other
// namespaces.
func Validate(obj *notificationv1beta3.Alert, noCrossNamespaceRefs bool) error {
	for field, list := range map[string][]string{"spec.inclusionList": obj.Spec.InclusionList, "spec.exclusionList": obj.Spec.ExclusionList} {
		for i, expr := range list {
			if _, err := regexp.Compile(expr); err != nil {
				return runtime.Stallingf(notificationv1.InvalidConfigReason, "%s[%d] %q is not a regular expression: %v", field, i, expr, err)
			}
		}
	}
	if noCrossNamespaceRefs {
		for i, src := range obj.Spec.EventSources {
			if src.Namespace != "" && src.Namespace != obj.Namespace {
				return runtime.Stallingf(meta.AccessDeniedReason,
					"spec.eventSources[%d] selects namespace %s: cross-namespace references are refused (--no-cross-namespace-refs)", i, src.Namespace)
			}
		}
	}
	return nil
}
