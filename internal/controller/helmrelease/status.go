package helmrelease

import (
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome: on
// success Ready tells the last test or release result; on failure the
// reason of the action that failed.
func (r *Reconciler) summarize(s *scope, err error) {
	obj := s.obj
	if isHealthWait(err) {
		runtime.MarkTrue(obj, meta.ReconcilingCondition, meta.ProgressingReason, "%s", err.Error())
		runtime.MarkUnknown(obj, meta.ReadyCondition, meta.ProgressingReason, "%s", err.Error())
		runtime.Delete(obj, meta.StalledCondition)
		return
	}
	if err == nil {
		c := runtime.Get(obj, helmv2.ReleasedCondition)
		if t := runtime.Get(obj, helmv2.TestSuccessCondition); t != nil && t.Status == metav1.ConditionTrue && obj.GetTest().Enable {
			c = t
		}
		if c == nil {
			runtime.MarkReady(obj, meta.ReconciliationSucceededReason, "release is in sync")
			return
		}
		runtime.MarkReady(obj, c.Reason, "%s", c.Message)
		return
	}
	runtime.MarkOutcome(obj, err, meta.ReconciliationFailedReason)
	if runtime.IsStalling(err) && runtime.ReasonOf(err, "") == RetriesExceededReason {
		// Ready says which action failed; Stalled says that it will not
		// be tried again.
		if c := runtime.Get(obj, failedCondition(obj)); c != nil && c.Status == metav1.ConditionFalse {
			runtime.MarkFalse(obj, meta.ReadyCondition, c.Reason, "%s", err.Error())
		}
	}
	if !s.before.Ready && s.before.Message == runtime.Message(obj, meta.ReadyCondition) {
		return
	}
	if runtime.IsStalling(err) || (!isActionFailure(err) && !progressing(err)) {
		r.eventf(obj, runtime.SeverityError, runtime.ReasonOf(err, meta.ReconciliationFailedReason), "%s", err.Error())
	}
}

// progressing reports whether err is a wait for something on its way: the
// HelmChart that the HelmRelease created and its first artifact, or the
// objects of a release that was applied. Ready says so; an event of error
// severity (an alert) would cry wolf for every new release.
func progressing(err error) bool {
	var w *runtime.WaitingError
	return errors.As(err, &w) && w.Reason == meta.ProgressingReason
}

// isActionFailure reports whether err is the failure of a Helm action,
// which was announced by an event already.
func isActionFailure(err error) bool {
	switch runtime.ReasonOf(err, "") {
	case helmv2.InstallFailedReason, helmv2.UpgradeFailedReason, helmv2.TestFailedReason:
		return true
	}
	return false
}

// keepTransitionTimes gives each condition whose status is the same as at
// the start of the reconcile its transition time from then.
func keepTransitionTimes(before, after []metav1.Condition) {
	for i := range after {
		for _, b := range before {
			if b.Type == after[i].Type && b.Status == after[i].Status {
				after[i].LastTransitionTime = b.LastTransitionTime
			}
		}
	}
}

// eventf records an event when the reconciler has a recorder.
func (r *Reconciler) eventf(obj *helmv2.HelmRelease, severity, reason, format string, args ...any) {
	r.eventfMD(obj, nil, severity, reason, format, args...)
}

// eventfMD records an event with metadata (the chart version).
func (r *Reconciler) eventfMD(obj *helmv2.HelmRelease, md map[string]string, severity, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, md, severity, reason, format, args...)
	}
}
