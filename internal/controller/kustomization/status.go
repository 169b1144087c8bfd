package kustomization

import (
	"errors"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome. The
// inventory and lastAppliedRevision keep what was last applied.
func summarize(obj *kustomizev1.Kustomization, err error) {
	if err == nil {
		runtime.MarkReady(obj, meta.ReconciliationSucceededReason, "Applied revision: %s", obj.Status.LastAppliedRevision)
		return
	}
	reason := runtime.ReasonOf(err, meta.ReconciliationFailedReason)
	msg := err.Error()
	if runtime.IsStalling(err) {
		runtime.MarkStalled(obj, reason, "%s", msg)
		return
	}
	var wait *runtime.WaitingError
	if errors.As(err, &wait) {
		runtime.MarkReconciling(obj, meta.ProgressingWithRetryReason, "%s", msg)
		runtime.MarkFailed(obj, reason, "%s", msg)
		return
	}
	runtime.MarkFailed(obj, reason, "%s", msg)
	runtime.MarkReconciling(obj, meta.ProgressingWithRetryReason, "retrying: %s", msg)
}

// announce records an event when the reconcile changed objects, failed
// anew, or recovered; a reconcile that changed nothing stays quiet.
func (r *Reconciler) announce(obj *kustomizev1.Kustomization, s *scope, err error, wasReady bool, prevMessage string) {
	if r.Recorder == nil {
		return
	}
	md := map[string]string{"revision": s.revision}
	var wait *runtime.WaitingError
	switch {
	case err != nil && errors.As(err, &wait):
		// Waiting for a dependency or a source is not news.
	case err != nil:
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != prevMessage || wasReady {
			r.Recorder.Eventf(obj, md, runtime.SeverityError, runtime.ReasonOf(err, meta.ReconciliationFailedReason), "%s", msg)
		}
	case s.changes.Changed():
		r.Recorder.Eventf(obj, md, runtime.SeverityInfo, meta.ReconciliationSucceededReason, "%s", s.changes.String())
	case !wasReady && prevMessage != "" && prevMessage != "reconciliation in progress":
		r.Recorder.Eventf(obj, md, runtime.SeverityInfo, meta.ReconciliationSucceededReason,
			"Applied revision: %s", obj.Status.LastAppliedRevision)
	}
}
