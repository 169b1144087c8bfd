package meta

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// ReconcileRequestAnnotation asks the controller to reconcile the object
	// now; any new value is a new request.
	ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

	// ForceRequestAnnotation, on a HelmRelease, asks for a one-off forced
	// upgrade; it must carry the same value as ReconcileRequestAnnotation.
	ForceRequestAnnotation = "reconcile.fluxcd.io/forceAt"

	// ResetRequestAnnotation, on a HelmRelease, resets the failure counters;
	// it must carry the same value as ReconcileRequestAnnotation.
	ResetRequestAnnotation = "reconcile.fluxcd.io/resetAt"

	// WatchLabel on a Secret or ConfigMap makes the objects that reference
	// it reconcile when it changes.
	WatchLabel = "reconcile.fluxcd.io/watch"

	// WatchLabelEnabled is the value of WatchLabel that enables watching.
	WatchLabelEnabled = "Enabled"

	// Finalizer is set on every object that a controller cleans up after.
	Finalizer = "finalizers.fluxcd.io"
)

// ReconcileRequestStatus is embedded in every status: it echoes the last
// ReconcileRequestAnnotation value that the controller handled, so clients
// can tell when their request was served.
type ReconcileRequestStatus struct {
	// LastHandledReconcileAt holds the value of the most recent
	// reconcile request annotation that was handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// GetLastHandledReconcileRequest returns the last handled request value.
func (in ReconcileRequestStatus) GetLastHandledReconcileRequest() string {
	return in.LastHandledReconcileAt
}

// SetLastHandledReconcileRequest records token as handled.
func (in *ReconcileRequestStatus) SetLastHandledReconcileRequest(token string) {
	in.LastHandledReconcileAt = token
}

// ReconcileAnnotationValue returns the value of ReconcileRequestAnnotation
// in annotations, and whether it is set.
func ReconcileAnnotationValue(annotations map[string]string) (string, bool) {
	v, ok := annotations[ReconcileRequestAnnotation]
	return v, ok
}

// ObjectWithConditions is implemented by every gotk kind.
//
// +kubebuilder:object:generate=false
type ObjectWithConditions interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// Reconcilable is implemented by every gotk kind: it exposes what the
// shared runtime needs to schedule and account for a reconcile.
//
// +kubebuilder:object:generate=false
type Reconcilable interface {
	ObjectWithConditions
	// GetRequeueAfter is how long after a successful reconcile the next
	// one is due.
	GetRequeueAfter() time.Duration
	// IsSuspended reports spec.suspend.
	IsSuspended() bool
	// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
	GetLastHandledReconcileRequest() string
	// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
	SetLastHandledReconcileRequest(string)
}
