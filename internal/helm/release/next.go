package release

import (
	"strings"

	"helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// Action is what the controller does next to a release.
type Action string

const (
	// None: the release is in sync with the desired state.
	None Action = "none"
	// Install a release where there is none (or only an uninstalled one).
	Install Action = "install"
	// Upgrade the release to the desired chart and values.
	Upgrade Action = "upgrade"
	// Unlock a release left pending-* by an action that never finished.
	Unlock Action = "unlock"
	// Test runs the chart's tests against the release.
	Test Action = "test"
	// Rollback to the previous successful version: remediation of a
	// failed upgrade.
	Rollback Action = "rollback"
	// Uninstall: remediation of a failed install (or upgrade, with the
	// uninstall strategy).
	Uninstall Action = "uninstall"
	// Stall: the retries of the desired state are exhausted; a new chart
	// or values, or a reset request, is needed.
	Stall Action = "stall"
)

// Observed is what the controller knows of the newest version of the
// release in storage.
type Observed struct {
	Version      int
	Status       string
	ChartName    string
	ChartVersion string
	ConfigDigest string
	// RenderDigest is the release's RenderLabel: the post-rendering it
	// was made with ("" for none).
	RenderDigest string
	// Tested is true when the tests of this version ran; TestFailed when
	// one of them failed.
	Tested, TestFailed bool
	// CanRollback is true when an older version was deployed
	// successfully, so that a rollback has somewhere to go.
	CanRollback bool
}

// Desired is the release the HelmRelease asks for.
type Desired struct {
	ChartName    string
	ChartVersion string
	ConfigDigest string
	// RenderDigest is PostRender.RenderDigest of the spec.
	RenderDigest string
	// Force asks for an upgrade even when in sync (forceAt).
	Force bool
}

// Observe summarizes the newest release of a history (nil: none).
func Observe(last *rel.Release, history []*rel.Release) *Observed {
	if last == nil {
		return nil
	}
	o := &Observed{
		Version:      last.Version,
		Status:       last.Info.Status.String(),
		ConfigDigest: ConfigDigest(last.Config),
		RenderDigest: last.Labels[RenderLabel],
	}
	if last.Chart != nil && last.Chart.Metadata != nil {
		o.ChartName, o.ChartVersion = last.Chart.Metadata.Name, last.Chart.Metadata.Version
	}
	for _, h := range last.Hooks {
		if isTestHook(h) && !h.LastRun.StartedAt.IsZero() {
			o.Tested = true
			if h.LastRun.Phase == rel.HookPhaseFailed {
				o.TestFailed = true
			}
		}
	}
	for _, h := range history {
		if h.Version < last.Version && (h.Info.Status == common.StatusDeployed || h.Info.Status == common.StatusSuperseded) {
			o.CanRollback = true
		}
	}
	return o
}

func isTestHook(h *rel.Hook) bool {
	for _, e := range h.Events {
		if e == rel.HookTest {
			return true
		}
	}
	return false
}

// InSync reports whether the release is made of the desired chart,
// values and post-rendering.
func (o *Observed) InSync(want Desired) bool {
	return o.ChartName == want.ChartName && o.ChartVersion == want.ChartVersion &&
		o.ConfigDigest == want.ConfigDigest && o.RenderDigest == want.RenderDigest
}

// Next decides what to do with the release, from what storage holds
// (nil: no release), what is desired, and the HelmRelease's spec and
// failure counters. It is a pure function: the reconciler runs the
// action, observes again and asks again, until None, Stall, or a failure.
func Next(hr *helmv2.HelmRelease, cur *Observed, want Desired) Action {
	if cur == nil || cur.Status == common.StatusUninstalled.String() {
		if exhausted(hr, hr.GetInstall().GetRemediation()) {
			return Stall
		}
		return Install
	}
	if strings.HasPrefix(cur.Status, "pending") || cur.Status == common.StatusUninstalling.String() {
		return Unlock
	}
	if cur.Status == common.StatusFailed.String() {
		return afterFailure(hr, cur)
	}
	// deployed (or superseded, which storage never leaves as newest)
	if !cur.InSync(want) || want.Force {
		rem := hr.GetUpgrade().GetRemediation()
		if hr.Status.LastAttemptedReleaseAction == helmv2.ReleaseActionInstall {
			rem = hr.GetInstall().GetRemediation()
		}
		if !want.Force && exhausted(hr, rem) {
			return Stall
		}
		return Upgrade
	}
	test := hr.GetTest()
	if test.Enable && !cur.Tested {
		return Test
	}
	if test.Enable && cur.TestFailed && !test.IgnoreFailures && !ignoreTests(hr) {
		return afterFailure(hr, cur)
	}
	return None
}

// ignoreTests reports the remediation's ignoreTestFailures for the last
// action.
func ignoreTests(hr *helmv2.HelmRelease) bool {
	rem := hr.GetActiveRemediation()
	return rem != nil && rem.MustIgnoreTestFailures(hr.GetTest().IgnoreFailures)
}

// afterFailure chooses between retrying, remediating and stalling once
// the newest release failed (or failed its tests).
func afterFailure(hr *helmv2.HelmRelease, cur *Observed) Action {
	act := hr.Status.LastAttemptedReleaseAction
	rem := hr.GetActiveRemediation()
	if act == "" || rem.GetFailureCount(hr) == 0 {
		// Not a failure this HelmRelease counted: a release unlocked
		// after a crash, or failed by someone else. Carry on.
		if cur.CanRollback {
			return Upgrade
		}
		return Install
	}
	strategy := hr.GetUpgrade().GetStrategy().Name
	if act == helmv2.ReleaseActionInstall {
		strategy = hr.GetInstall().GetStrategy().Name
	}
	if strategy == helmv2.ActionStrategyRetryOnFailure {
		switch {
		case exhausted(hr, rem):
			return Stall
		case act == helmv2.ReleaseActionInstall:
			// Helm upgrades only a release that was deployed once.
			return Install
		}
		return Upgrade
	}
	if exhausted(hr, rem) && !rem.MustRemediateLastFailure() {
		return Stall
	}
	if act == helmv2.ReleaseActionInstall || rem.GetStrategy() == helmv2.UninstallRemediationStrategy {
		return Uninstall
	}
	if cur.CanRollback {
		return Rollback
	}
	if exhausted(hr, rem) {
		return Stall
	}
	return Upgrade
}

// exhausted reports whether the failures of the desired state passed the
// retries (a negative number of retries never runs out).
func exhausted(hr *helmv2.HelmRelease, rem helmv2.Remediation) bool {
	return rem.GetRetries() >= 0 && rem.GetFailureCount(hr) > int64(rem.GetRetries())
}
