package bucket

import (
	"strings"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome of a
// reconcile. A failure never removes the last good artifact.
func summarize(obj *sourcev1.Bucket, err error) {
	if err == nil {
		runtime.Delete(obj, meta.FetchFailedCondition)
		runtime.MarkReady(obj, meta.SucceededReason, "stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		return
	}
	runtime.MarkOutcome(obj, err, meta.FailedReason)
}

// announce records an event for a new revision, a recovery, or a new
// failure, and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(obj *sourcev1.Bucket, s *scope, err error, wasReady bool, prevMessage, prevRevision string) {
	if r.Recorder == nil {
		return
	}
	if err != nil {
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != prevMessage || wasReady {
			r.Recorder.Eventf(obj, nil, runtime.SeverityError, runtime.ReasonOf(err, meta.FailedReason), "%s", msg)
		}
		return
	}
	art := obj.Status.Artifact
	switch {
	case art.Revision != prevRevision:
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision, "digest": art.Digest},
			runtime.SeverityInfo, meta.NewRevisionReason, "stored artifact with %d fetched files from '%s'", len(s.objects), obj.Spec.BucketName)
	case !wasReady && prevMessage != "" && !strings.HasPrefix(prevMessage, "reconciliation in progress") &&
		!strings.HasPrefix(prevMessage, "building artifact"):
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityInfo, meta.SucceededReason,
			"stored artifact for revision '%s' again", art.Revision)
	}
}
