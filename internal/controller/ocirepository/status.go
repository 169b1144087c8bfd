package ocirepository

import (
	"strings"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome of a
// reconcile. A failure never removes the last good artifact.
func summarize(obj *sourcev1.OCIRepository, err error) {
	if err == nil {
		runtime.Delete(obj, meta.FetchFailedCondition)
		runtime.MarkReady(obj, meta.SucceededReason, "stored artifact for digest '%s'", obj.Status.Artifact.Revision)
		return
	}
	runtime.MarkOutcome(obj, err, meta.FailedReason)
}

// announce records an event for a new revision, a recovery, or a new
// failure, and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(obj *sourcev1.OCIRepository, err error, wasReady bool, prevMessage, prevRevision string) {
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
		msg := "stored artifact with revision '" + art.Revision + "' from '" + obj.Spec.URL + "'"
		if src := art.Metadata["org.opencontainers.image.source"]; src != "" {
			msg += ", origin source '" + src + "'"
		}
		if rev := art.Metadata["org.opencontainers.image.revision"]; rev != "" {
			msg += ", origin revision '" + rev + "'"
		}
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision, "digest": art.Digest},
			runtime.SeverityInfo, meta.NewRevisionReason, "%s", msg)
	case !wasReady && prevMessage != "" && !strings.HasPrefix(prevMessage, "reconciliation in progress") &&
		!strings.HasPrefix(prevMessage, "building artifact"):
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityInfo, meta.SucceededReason,
			"stored artifact for revision '%s' again", art.Revision)
	}
}
