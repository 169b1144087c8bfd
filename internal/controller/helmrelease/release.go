package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	rel "helm.sh/helm/v4/pkg/release/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// RetriesExceededReason is the Stalled reason once the retries of the
// desired state are exhausted.
const RetriesExceededReason = "RetriesExceeded"

// maxSteps bounds the actions of one reconcile: unlock, upgrade, test,
// remediate is the longest useful chain.
const maxSteps = 6

// reconcileRelease runs the actions that release.Next chooses until the
// release is in sync (then compares it with the cluster, when drift
// detection is on), stalled, or an action failed. A failed install or
// upgrade is remediated in the same reconcile when the spec says so, and
// the failure is returned so that the next attempt comes with backoff.
func (r *Reconciler) reconcileRelease(ctx context.Context, s *scope) error {
	obj := s.obj
	runner, err := r.newRunner(ctx, obj)
	if err != nil {
		return err
	}
	s.runner = runner
	want := release.Desired{
		ChartName:    s.chart.Name(),
		ChartVersion: s.chart.Metadata.Version,
		ConfigDigest: s.digest,
		Force:        s.force,
	}
	// The post-renderers and commonMetadata: the release records what it
	// was rendered with, and a change upgrades it as a new chart would.
	runner.Render = release.NewPostRender(obj)
	want.RenderDigest = runner.Render.RenderDigest()
	var failure error
	tested := 0
	for step := 0; step < maxSteps; step++ {
		// One List of the release's versions, unless the step before
		// read them after its action (syncHistory): the last is the
		// newest.
		history := s.history
		s.history = nil
		if history == nil {
			if history, err = runner.History(); err != nil {
				return runtime.Failed(helmv2.GetLastReleaseFailedReason,
					fmt.Errorf("read release '%s' from storage namespace '%s': %w", obj.GetReleaseName(), obj.GetStorageNamespace(), err))
			}
		}
		last := release.Newest(history)
		cur := release.Observe(last, history)
		if cur != nil {
			if snap := snapshotOf(obj, cur.Version); snap.HasBeenTested() {
				cur.Tested = true
				cur.TestFailed = cur.TestFailed || snap.HasTestInPhase("Failed")
			}
			if tested > 0 {
				cur.Tested = true
			}
		}
		if r.waiting(obj, last) {
			if cur.InSync(want) && !want.Force {
				if err := r.checkWait(s, last); err != nil {
					if isHealthWait(err) || failure != nil {
						return err
					}
					failure = err
					continue
				}
			} else {
				// A new desired state supersedes the wait.
				r.Health.Stop(client.ObjectKeyFromObject(obj))
			}
		}
		act := release.Next(obj, cur, want)
		if failure != nil && act != release.Rollback && act != release.Uninstall {
			if act == release.Stall {
				return stalled(obj, failure)
			}
			return failure
		}
		switch act {
		case release.None:
			obj.Status.ObservedPostRenderersDigest = runner.Render.PostRenderersDigest
			obj.Status.ObservedCommonMetadataDigest = runner.Render.CommonMetadataDigest
			r.markInSync(s, last)
			return r.reconcileDrift(ctx, s, last)
		case release.Stall:
			return stalled(obj, errors.New(runtime.Message(obj, failedCondition(obj))))
		case release.Unlock:
			if err := runner.Unlock(last); err != nil {
				return runtime.Failed(meta.ReconciliationFailedReason, fmt.Errorf("unlock release %s: %w", fullName(last), err))
			}
			r.eventf(obj, runtime.SeverityInfo, meta.ProgressingReason,
				"release %s was left %s by an action that never finished: marked failed to carry on", fullName(last), cur.Status)
		case release.Install, release.Upgrade:
			failure = r.runRelease(ctx, s, act, last)
			want.Force = false
			if failure == nil {
				obj.Status.ObservedPostRenderersDigest = runner.Render.PostRenderersDigest
				obj.Status.ObservedCommonMetadataDigest = runner.Render.CommonMetadataDigest
			}
			if failure != nil {
				if d, ok := retryOnFailure(obj); ok {
					// Retried as the strategy says, with no remediation.
					failure = runtime.Waiting(runtime.ReasonOf(failure, ""), d, failure)
				}
			}
		case release.Test:
			tested++
			failure = r.runTest(s, last)
		case release.Rollback, release.Uninstall:
			if act == release.Rollback {
				r.runRollback(s, last)
			} else {
				r.runRemediationUninstall(s, last)
			}
			if failure != nil {
				return failure
			}
			// The failure was an earlier reconcile's: the retry comes
			// next, in this one.
		}
		if err := r.syncHistory(s); err != nil {
			return err
		}
	}
	if failure != nil {
		return failure
	}
	return runtime.Failed(meta.ReconciliationFailedReason, fmt.Errorf("release %s did not settle after %d actions", obj.GetReleaseName(), maxSteps))
}

// runRelease installs or upgrades, and records the outcome.
func (r *Reconciler) runRelease(ctx context.Context, s *scope, act release.Action, last *rel.Release) error {
	obj := s.obj
	ch := s.chart
	chartName := ch.Name() + "@" + ch.Metadata.Version
	var err error
	var out *rel.Release
	var rem helmv2.Remediation
	if act == release.Install {
		obj.Status.LastAttemptedReleaseAction = helmv2.ReleaseActionInstall
		rem = obj.GetInstall().GetRemediation()
		// An uninstalled release kept in history: install replaces it.
		out, err = s.runner.Install(ctx, obj, ch, s.values, last != nil)
	} else {
		obj.Status.LastAttemptedReleaseAction = helmv2.ReleaseActionUpgrade
		rem = obj.GetUpgrade().GetRemediation()
		out, err = s.runner.Upgrade(ctx, obj, ch, s.values)
	}
	verb := string(act)
	name := obj.Namespace + "/" + obj.GetReleaseName()
	if out != nil {
		name = fullName(out)
	}
	md := map[string]string{"revision": ch.Metadata.Version}
	if err != nil {
		rem.IncrementFailureCount(obj)
		obj.Status.Failures++
		reason := helmv2.UpgradeFailedReason
		if act == release.Install {
			reason = helmv2.InstallFailedReason
		}
		msg := fmt.Sprintf("Helm %s failed for release %s with chart %s: %s", verb, name, chartName, cleanError(err))
		runtime.MarkFalse(obj, helmv2.ReleasedCondition, reason, "%s", msg)
		r.eventfMD(obj, md, runtime.SeverityError, reason, "%s", msg)
		return runtime.Failed(reason, errors.New(msg))
	}
	reason := helmv2.UpgradeSucceededReason
	if act == release.Install {
		reason = helmv2.InstallSucceededReason
	}
	runtime.Delete(obj, helmv2.RemediatedCondition)
	if !obj.GetTest().Enable {
		runtime.Delete(obj, helmv2.TestSuccessCondition)
	}
	if out != nil {
		r.setInventory(s, out)
		r.rememberApplied(s, out)
	}
	if out != nil && r.sharedWait(obj, obj.Status.LastAttemptedReleaseAction) {
		// Applied; the objects are waited for by the shared watches, and
		// Released says so until they are ready.
		if err := r.startWait(obj, out, time.Now()); err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.healthCheckExprs: %s", err)
		}
		runtime.MarkUnknown(obj, helmv2.ReleasedCondition, meta.ProgressingReason,
			"Helm %s of release %s with chart %s: waiting for its objects", verb, waitToken(out), chartName)
		return nil
	}
	msg := fmt.Sprintf("Helm %s succeeded for release %s with chart %s", verb, name, chartName)
	runtime.MarkTrue(obj, helmv2.ReleasedCondition, reason, "%s", msg)
	r.eventfMD(obj, md, runtime.SeverityInfo, reason, "%s", msg)
	return nil
}

// runTest runs the chart's tests and records the outcome; a failure
// counts against the retries of the last action unless ignored.
func (r *Reconciler) runTest(s *scope, last *rel.Release) error {
	obj := s.obj
	out, err := s.runner.Test(obj)
	if out == nil {
		out = last
	}
	hooks := testHooks(out)
	if err := r.syncHistory(s); err != nil {
		return err
	}
	if snap := snapshotOf(obj, out.Version); snap != nil {
		snap.SetTestHooks(hooks)
	}
	md := map[string]string{"revision": chartVersion(out)}
	if err != nil {
		msg := fmt.Sprintf("Helm test failed for release %s with chart %s: %s", fullName(out), chartOf(out), cleanError(err))
		runtime.MarkFalse(obj, helmv2.TestSuccessCondition, helmv2.TestFailedReason, "%s", msg)
		r.eventfMD(obj, md, runtime.SeverityError, helmv2.TestFailedReason, "%s", msg)
		rem := obj.GetActiveRemediation()
		if obj.GetTest().IgnoreFailures || (rem != nil && rem.MustIgnoreTestFailures(obj.GetTest().IgnoreFailures)) {
			return nil
		}
		if rem != nil {
			rem.IncrementFailureCount(obj)
		}
		obj.Status.Failures++
		return runtime.Failed(helmv2.TestFailedReason, errors.New(msg))
	}
	msg := fmt.Sprintf("Helm test succeeded for release %s with chart %s: %d test hooks completed successfully", fullName(out), chartOf(out), len(hooks))
	if len(hooks) == 0 {
		msg = fmt.Sprintf("Helm test succeeded for release %s with chart %s: no test hooks", fullName(out), chartOf(out))
	}
	runtime.MarkTrue(obj, helmv2.TestSuccessCondition, helmv2.TestSucceededReason, "%s", msg)
	r.eventfMD(obj, md, runtime.SeverityInfo, helmv2.TestSucceededReason, "%s", msg)
	return nil
}

// runRollback rolls back to the previous successful version.
func (r *Reconciler) runRollback(s *scope, last *rel.Release) {
	obj := s.obj
	err := s.runner.Rollback(obj, 0)
	_ = r.syncHistory(s)
	md := map[string]string{"revision": chartVersion(last)}
	if err != nil {
		msg := fmt.Sprintf("Helm rollback of release %s failed: %s", fullName(last), cleanError(err))
		runtime.MarkFalse(obj, helmv2.RemediatedCondition, helmv2.RollbackFailedReason, "%s", msg)
		r.eventfMD(obj, md, runtime.SeverityError, helmv2.RollbackFailedReason, "%s", msg)
		return
	}
	// The versions syncHistory has just read, unless it failed.
	now := release.Newest(s.history)
	if now == nil {
		now, _ = s.runner.Last()
	}
	if now != nil {
		r.setInventory(s, now)
	}
	msg := fmt.Sprintf("Helm rollback to previous release succeeded: release %s with chart %s", fullName(now), chartOf(now))
	runtime.MarkTrue(obj, helmv2.RemediatedCondition, helmv2.RollbackSucceededReason, "%s", msg)
	r.eventfMD(obj, md, runtime.SeverityInfo, helmv2.RollbackSucceededReason, "%s", msg)
}

// runRemediationUninstall uninstalls a release whose install (or
// upgrade, with the uninstall strategy) failed.
func (r *Reconciler) runRemediationUninstall(s *scope, last *rel.Release) {
	obj := s.obj
	err := s.runner.Uninstall(obj)
	_ = r.syncHistory(s)
	md := map[string]string{"revision": chartVersion(last)}
	if err != nil {
		msg := fmt.Sprintf("Helm uninstall of failed release %s failed: %s", fullName(last), cleanError(err))
		runtime.MarkFalse(obj, helmv2.RemediatedCondition, helmv2.UninstallFailedReason, "%s", msg)
		r.eventfMD(obj, md, runtime.SeverityError, helmv2.UninstallFailedReason, "%s", msg)
		return
	}
	r.forgetDrift(obj)
	obj.Status.Inventory = nil
	msg := fmt.Sprintf("Helm uninstall succeeded for failed release %s with chart %s", fullName(last), chartOf(last))
	runtime.MarkTrue(obj, helmv2.RemediatedCondition, helmv2.UninstallSucceededReason, "%s", msg)
	r.eventfMD(obj, md, runtime.SeverityInfo, helmv2.UninstallSucceededReason, "%s", msg)
}

// markInSync records a release in sync: Released True (as a previous
// reconcile or the adoption of an existing release found it), and its
// history and inventory when the release is another than they show.
func (r *Reconciler) markInSync(s *scope, last *rel.Release) {
	obj := s.obj
	if len(obj.Status.History) == 0 || obj.Status.History.Latest().Version != last.Version {
		_ = r.syncHistory(s)
		r.setInventory(s, last)
	} else if obj.Status.Inventory == nil {
		r.setInventory(s, last)
	}
	obj.Status.ClearFailures()
	if !runtime.IsTrue(obj, helmv2.ReleasedCondition) {
		reason := helmv2.UpgradeSucceededReason
		if last.Version == 1 || obj.Status.LastAttemptedReleaseAction == helmv2.ReleaseActionInstall {
			reason = helmv2.InstallSucceededReason
		}
		runtime.MarkTrue(obj, helmv2.ReleasedCondition, reason, "Helm release %s with chart %s is in sync", fullName(last), chartOf(last))
	}
	if !obj.GetTest().Enable {
		runtime.Delete(obj, helmv2.TestSuccessCondition)
	}
	obj.Status.LastReleaseRevision = last.Version
}

// failedCondition is the condition that tells the last failure: a failed
// test, else the release.
func failedCondition(obj *helmv2.HelmRelease) string {
	if runtime.IsFalse(obj, helmv2.TestSuccessCondition) && runtime.IsTrue(obj, helmv2.ReleasedCondition) {
		return helmv2.TestSuccessCondition
	}
	return helmv2.ReleasedCondition
}

// retryOnFailure returns the retry interval of the last action when its
// strategy is RetryOnFailure.
func retryOnFailure(obj *helmv2.HelmRelease) (time.Duration, bool) {
	if obj.Status.LastAttemptedReleaseAction == helmv2.ReleaseActionInstall {
		st := obj.GetInstall().GetStrategy()
		return st.GetRetryInterval(), st.Name == helmv2.ActionStrategyRetryOnFailure
	}
	st := obj.GetUpgrade().GetStrategy()
	return st.GetRetryInterval(), st.Name == helmv2.ActionStrategyRetryOnFailure
}

// stalled turns the last failure into the Stalled outcome once the
// retries are exhausted.
func stalled(obj *helmv2.HelmRelease, cause error) error {
	act := obj.Status.LastAttemptedReleaseAction
	if act == "" {
		act = helmv2.ReleaseActionInstall
	}
	count := obj.Status.InstallFailures
	if act == helmv2.ReleaseActionUpgrade {
		count = obj.Status.UpgradeFailures
	}
	msg := cause.Error()
	return runtime.Stalling(RetriesExceededReason, fmt.Errorf("Failed to %s after %d attempt(s); the last error: %s", act, count, msg))
}

// syncHistory rebuilds status.history from the release's versions in
// storage, keeping the test results it recorded, and keeps the versions in
// s.history for the next step.
func (r *Reconciler) syncHistory(s *scope) error {
	obj := s.obj
	history, err := s.runner.History()
	if err != nil {
		return runtime.Failed(helmv2.GetLastReleaseFailedReason, err)
	}
	old := map[int]*helmv2.Snapshot{}
	for _, snap := range obj.Status.History {
		old[snap.Version] = snap
	}
	snaps := make(helmv2.Snapshots, 0, len(history))
	for _, h := range history {
		snap := newSnapshot(h)
		if prev, ok := old[h.Version]; ok && prev.TestHooks != nil && snap.TestHooks == nil {
			snap.TestHooks = prev.TestHooks
		}
		snaps = append(snaps, snap)
	}
	snaps.SortByVersion()
	snaps.Truncate(obj.GetTest().IgnoreFailures)
	obj.Status.History = snaps
	s.history = history
	return nil
}

// newSnapshot records one release version as status.history shows it.
func newSnapshot(h *rel.Release) *helmv2.Snapshot {
	snap := &helmv2.Snapshot{
		APIVersion:    "v2",
		Digest:        releaseDigest(h),
		Name:          h.Name,
		Namespace:     h.Namespace,
		Version:       h.Version,
		Status:        h.Info.Status.String(),
		ConfigDigest:  release.ConfigDigest(h.Config),
		FirstDeployed: metav1.NewTime(h.Info.FirstDeployed),
		LastDeployed:  metav1.NewTime(h.Info.LastDeployed),
	}
	if !h.Info.Deleted.IsZero() {
		snap.Deleted = metav1.NewTime(h.Info.Deleted)
	}
	if h.Chart != nil && h.Chart.Metadata != nil {
		snap.ChartName, snap.ChartVersion, snap.AppVersion = h.Chart.Metadata.Name, h.Chart.Metadata.Version, h.Chart.Metadata.AppVersion
	}
	if hooks := testHooks(h); len(hooks) > 0 {
		snap.SetTestHooks(hooks)
	}
	return snap
}

// testHooks returns the test hooks of h that ran.
func testHooks(h *rel.Release) map[string]*helmv2.TestHookStatus {
	out := map[string]*helmv2.TestHookStatus{}
	if h == nil {
		return out
	}
	for _, hook := range h.Hooks {
		isTest := false
		for _, e := range hook.Events {
			isTest = isTest || e == rel.HookTest
		}
		if !isTest || hook.LastRun.StartedAt.IsZero() {
			continue
		}
		out[hook.Name] = &helmv2.TestHookStatus{
			LastStarted:   metav1.NewTime(hook.LastRun.StartedAt),
			LastCompleted: metav1.NewTime(hook.LastRun.CompletedAt),
			Phase:         string(hook.LastRun.Phase),
		}
	}
	return out
}

// releaseDigest is "sha256:<hex>" of the release as stored.
func releaseDigest(h *rel.Release) string {
	data, err := json.Marshal(h)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// snapshotOf returns the snapshot of version, or nil.
func snapshotOf(obj *helmv2.HelmRelease, version int) *helmv2.Snapshot {
	for _, s := range obj.Status.History {
		if s.Version == version {
			return s
		}
	}
	return nil
}

func fullName(h *rel.Release) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf("%s/%s.v%d", h.Namespace, h.Name, h.Version)
}

func chartOf(h *rel.Release) string {
	if h == nil || h.Chart == nil || h.Chart.Metadata == nil {
		return ""
	}
	return h.Chart.Metadata.Name + "@" + h.Chart.Metadata.Version
}

func chartVersion(h *rel.Release) string {
	if h == nil || h.Chart == nil || h.Chart.Metadata == nil {
		return ""
	}
	return h.Chart.Metadata.Version
}

// cleanError flattens Helm's multi-line errors into one line.
func cleanError(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
