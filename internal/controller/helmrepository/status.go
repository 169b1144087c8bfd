package helmrepository

import (
	"strings"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome of a
// reconcile. A failure never removes the last good artifact: consumers
// keep using it while Ready says what is wrong.
func (r *Reconciler) summarize(s *scope, err error) {
	obj := s.obj
	if err != nil {
		runtime.MarkOutcome(obj, err, meta.FailedReason)
		return
	}
	runtime.Delete(obj, meta.FetchFailedCondition)
	if obj.IsOCI() {
		runtime.MarkReady(obj, meta.SucceededReason, "Helm repository is Ready")
		return
	}
	runtime.MarkReady(obj, meta.SucceededReason, "stored artifact: revision '%s'", obj.Status.Artifact.Revision)
}

// announce records an event for a new index, a recovery or a new failure,
// and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(s *scope, err error, wasReady bool, prevMessage, prevRevision string) {
	obj := s.obj
	if r.Recorder == nil {
		return
	}
	if err != nil {
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != prevMessage || wasReady {
			r.Recorder.Eventf(obj, nil, runtime.SeverityError, runtime.ReasonOf(err, meta.FailedReason), "%s", msg)
		}
		return
	}
	recovered := !wasReady && prevMessage != "" && !strings.HasPrefix(prevMessage, "reconciliation in progress")
	if obj.IsOCI() {
		if recovered {
			r.Recorder.Eventf(obj, nil, runtime.SeverityInfo, meta.SucceededReason, "Helm repository is Ready again")
		}
		return
	}
	art := obj.Status.Artifact
	switch {
	case art.Revision != prevRevision && s.index != nil:
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision, "digest": art.Digest},
			runtime.SeverityInfo, meta.NewRevisionReason, "stored fetched index of size %d from '%s'", *art.Size, obj.Spec.URL)
	case recovered:
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityInfo, meta.SucceededReason,
			"stored artifact: revision '%s' again", art.Revision)
	}
}
