package receiver

import (
	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready from the outcome of a reconcile.
func summarize(obj *notificationv1.Receiver, err error) {
	if err == nil {
		runtime.MarkReady(obj, meta.SucceededReason, "Receiver initialized for path: %s", obj.Status.WebhookPath)
		return
	}
	runtime.MarkOutcome(obj, err, meta.FailedReason)
}

// announce records an event when the webhook path changes, when the
// Receiver fails anew, and when it recovers.
func (r *Reconciler) announce(obj *notificationv1.Receiver, err error, before runtime.Before, prevPath string) {
	if r.Recorder == nil {
		return
	}
	if err != nil {
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != before.Message || before.Ready {
			r.Recorder.Eventf(obj, nil, runtime.SeverityError, runtime.ReasonOf(err, meta.FailedReason), "%s", msg)
		}
		return
	}
	if obj.Status.WebhookPath != prevPath || !before.Ready {
		r.Recorder.Eventf(obj, nil, runtime.SeverityInfo, meta.SucceededReason, "Receiver initialized for path: %s", obj.Status.WebhookPath)
	}
}
