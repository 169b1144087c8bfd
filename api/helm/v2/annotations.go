package v2

import "github.com/gotk-dev/gotk/api/meta"

// ShouldHandleForceRequest reports whether the reconcile.fluxcd.io/forceAt
// annotation asks for a forced release that was not served yet, and if so
// records it as served. The request counts only when its value equals the
// reconcile.fluxcd.io/requestedAt annotation.
func (in *HelmRelease) ShouldHandleForceRequest() bool {
	return in.handleRequest(meta.ForceRequestAnnotation, &in.Status.LastHandledForceAt)
}

// ShouldHandleResetRequest reports whether the reconcile.fluxcd.io/resetAt
// annotation asks for a reset of the failure counters that was not served
// yet, and if so records it as served; the caller then resets the counters.
// The request counts only when its value equals the
// reconcile.fluxcd.io/requestedAt annotation.
func (in *HelmRelease) ShouldHandleResetRequest() bool {
	return in.handleRequest(meta.ResetRequestAnnotation, &in.Status.LastHandledResetAt)
}

// handleRequest records the value of annotation in *lastHandled when it is
// a new request matching the reconcile request, and reports whether it was.
func (in *HelmRelease) handleRequest(annotation string, lastHandled *string) bool {
	requested, ok := in.GetAnnotations()[annotation]
	if !ok {
		return false
	}
	reconcileAt, ok := meta.ReconcileAnnotationValue(in.GetAnnotations())
	if !ok || reconcileAt != requested || requested == *lastHandled {
		return false
	}
	*lastHandled = requested
	in.Status.SetLastHandledReconcileRequest(reconcileAt)
	return true
}
