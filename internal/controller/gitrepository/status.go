package gitrepository

import (
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// summarize sets Ready, Reconciling and Stalled from the outcome of a
// reconcile. A failure never removes the last good artifact: consumers
// keep using it while Ready says what is wrong.
func summarize(obj *sourcev1.GitRepository, err error) {
	if err == nil {
		runtime.Delete(obj, meta.FetchFailedCondition)
		msg := fmt.Sprintf("stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		// Links left out stay in the message for as long as the artifact
		// lacks them.
		if d := artifact.DescribeOutsideLinks(artifact.OutsideLinks(obj.Status.Artifact)); d != "" {
			msg += "; " + d
		}
		runtime.MarkReady(obj, meta.SucceededReason, "%s", msg)
		return
	}
	runtime.MarkOutcome(obj, err, meta.FailedReason)
}

// announce records an event for a new revision, a recovery, or a new
// failure, and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(obj *sourcev1.GitRepository, s *scope, err error, wasReady bool, prevMessage, prevRevision string) {
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
	case art.Revision != prevRevision && s.commit != nil:
		msg := "stored artifact for commit '" + s.commit.ShortMessage() + "'"
		if len(s.verified) > 0 {
			msg += "; " + describe(s.verified)
		}
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision, "digest": art.Digest},
			runtime.SeverityInfo, meta.NewRevisionReason, "%s", msg)
	case !wasReady && prevMessage != "" && !strings.HasPrefix(prevMessage, "reconciliation in progress") &&
		!strings.HasPrefix(prevMessage, "building artifact"):
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityInfo, meta.SucceededReason,
			"stored artifact for revision '%s' again", art.Revision)
	}
}

func ctxLog(obj *sourcev1.GitRepository) logr.Logger {
	return ctrl.Log.WithValues("gitrepository", obj.Namespace+"/"+obj.Name)
}
