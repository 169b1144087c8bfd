package runtime

import (
	"github.com/gotk-dev/gotk/api/meta"
)

// RequestHolder is an object that records handled reconcile requests.
type RequestHolder interface {
	GetAnnotations() map[string]string
	GetLastHandledReconcileRequest() string
	SetLastHandledReconcileRequest(string)
}

// PendingRequest returns the value of the reconcile-request annotation
// when the object carries one it has not handled yet.
func PendingRequest(obj RequestHolder) (string, bool) {
	v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations())
	if !ok || v == obj.GetLastHandledReconcileRequest() {
		return "", false
	}
	return v, true
}

// HandleRequest marks the pending reconcile request, if any, as handled
// and reports whether there was one.
func HandleRequest(obj RequestHolder) bool {
	v, ok := PendingRequest(obj)
	if ok {
		obj.SetLastHandledReconcileRequest(v)
	}
	return ok
}
