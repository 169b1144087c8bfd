package kustomization

import (
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	runtime.MarkOutcome(obj, err, meta.ReconciliationFailedReason)
}

// recordHistory adds the outcome of a reconcile that built its objects to
// status.history, as Flux does: one snapshot per digest of the built
// objects and outcome (the Ready reason), with the source revision and,
// when the artifact records one, its origin revision. A reconcile that
// ended before a build, or whose health checks a new revision cancelled,
// leaves no trace.
func recordHistory(obj *kustomizev1.Kustomization, s *scope, err error, start time.Time) {
	if s.digest == "" {
		return
	}
	var wait *runtime.WaitingError
	if errors.As(err, &wait) {
		return
	}
	status := meta.ReconciliationSucceededReason
	if err != nil {
		status = runtime.ReasonOf(err, meta.ReconciliationFailedReason)
	}
	md := map[string]string{"revision": s.revision}
	if s.originRevision != "" {
		md["originRevision"] = s.originRevision
	}
	obj.Status.History.Upsert(s.digest, time.Now(), time.Since(start), status, md)
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
	case isHealthWait(err) && s.changes.Changed():
		// Applied, now waiting for health: the changes are news.
		r.Recorder.Eventf(obj, md, runtime.SeverityInfo, meta.ReconciliationSucceededReason, "%s", s.changes.String())
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

// keepTransitionTimes gives each condition whose status is the same as at
// the start of the reconcile its transition time from then: the reconcile
// passes through Unknown on its way, which is not a transition anyone saw,
// and a status that did not change must cost no status write.
func keepTransitionTimes(before, after []metav1.Condition) {
	for i := range after {
		for _, b := range before {
			if b.Type == after[i].Type && b.Status == after[i].Status {
				after[i].LastTransitionTime = b.LastTransitionTime
			}
		}
	}
}
