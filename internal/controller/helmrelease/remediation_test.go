package helmrelease

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// An upgrade that the API server refuses, with one retry, is rolled back
// to the last good release after each failure; once the retry failed too
// the HelmRelease is Stalled (RetriesExceeded) with the upgrade's error,
// the deployed release untouched. --reset (resetAt) gives the retries
// anew, and a fixed spec upgrades.
func TestFailedUpgradeRolledBackThenStalledThenReset(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Upgrade.Remediation = &helmv2.UpgradeRemediation{Retries: 1}
	})
	readyWith(t, key, "1.0.0")

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"fail": true, "greeting": "broken"})
	})
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsStalled(o) && o.Status.ObservedGeneration == o.Generation
	})
	if r := runtime.Reason(obj, meta.StalledCondition); r != RetriesExceededReason {
		t.Errorf("Stalled reason %q, want %s", r, RetriesExceededReason)
	}
	msg := runtime.Message(obj, meta.ReadyCondition)
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), msg)
	if runtime.Reason(obj, meta.ReadyCondition) != helmv2.UpgradeFailedReason || !strings.Contains(msg, "Failed to upgrade after 2 attempt(s)") ||
		!strings.Contains(msg, "Not_A_Valid_Name") {
		t.Errorf("Ready: %s %q", runtime.Reason(obj, meta.ReadyCondition), msg)
	}
	if obj.Status.UpgradeFailures != 2 {
		t.Errorf("upgradeFailures %d, want 2", obj.Status.UpgradeFailures)
	}
	if r := runtime.Reason(obj, helmv2.RemediatedCondition); r != helmv2.RollbackSucceededReason {
		t.Errorf("Remediated reason %q", r)
	}
	latest := obj.Status.History.Latest()
	if latest.Status != "deployed" || latest.ConfigDigest == obj.Status.LastAttemptedConfigDigest {
		t.Errorf("newest release %+v is not the rolled back one", latest)
	}
	greetingIs(t, ns, "web", "hello")
	waitEvent(t, ns, "web", helmv2.RollbackSucceededReason, "rollback to previous release succeeded")
	waitEvent(t, ns, "web", helmv2.UpgradeFailedReason, "Not_A_Valid_Name")

	// A reset: the retries start again, and fail again.
	update(t, key, func(o *helmv2.HelmRelease) {
		token := time.Now().Format(time.RFC3339Nano)
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[meta.ReconcileRequestAnnotation] = token
		o.Annotations[meta.ResetRequestAnnotation] = token
	})
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return o.Status.LastHandledResetAt != "" && runtime.IsStalled(o)
	})
	if obj.Status.UpgradeFailures != 2 || obj.Status.History.Latest().Version <= latest.Version {
		t.Errorf("after reset: upgradeFailures %d, newest version %d (was %d)", obj.Status.UpgradeFailures,
			obj.Status.History.Latest().Version, latest.Version)
	}

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"greeting": "fixed"})
	})
	obj = readyWith(t, key, "1.0.0")
	greetingIs(t, ns, "web", "fixed")
	if obj.Status.UpgradeFailures != 0 || runtime.IsStalled(obj) {
		t.Errorf("after a fix: %+v", obj.Status)
	}
}

// A failed install without remediation leaves the failed release and
// stalls at once (retries: 0); with retries, the failed install is
// uninstalled before each new attempt.
func TestFailedInstallUninstalledBetweenRetries(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Install.Remediation = &helmv2.InstallRemediation{Retries: 2}
		o.Spec.Values = values(t, map[string]any{"fail": true})
	})
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool { return runtime.IsStalled(o) })
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), runtime.Message(obj, meta.ReadyCondition))
	if obj.Status.InstallFailures != 3 || runtime.Reason(obj, meta.ReadyCondition) != helmv2.InstallFailedReason {
		t.Errorf("installFailures %d, Ready reason %s", obj.Status.InstallFailures, runtime.Reason(obj, meta.ReadyCondition))
	}
	if r := runtime.Reason(obj, helmv2.RemediatedCondition); r != helmv2.UninstallSucceededReason {
		t.Errorf("Remediated reason %q", r)
	}
	if n := len(releaseSecrets(t, ns, "web")); n != 1 {
		t.Errorf("%d storage Secrets, want the last failed install only", n)
	}

	none := newRelease(t, ns, "once", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"fail": true})
	})
	obj = waitFor(t, none, func(o *helmv2.HelmRelease) bool { return runtime.IsStalled(o) })
	if obj.Status.InstallFailures != 1 || obj.Status.History.Latest().Status != "failed" {
		t.Errorf("installFailures %d, history %+v", obj.Status.InstallFailures, obj.Status.History.Latest())
	}
}

// RetryOnFailure retries the upgrade at strategy.retryInterval without
// rolling back, until the retries run out.
func TestRetryOnFailureDoesNotRollBack(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Upgrade.Strategy = &helmv2.UpgradeStrategy{Name: helmv2.ActionStrategyRetryOnFailure,
			RetryInterval: &metav1.Duration{Duration: time.Second}}
		o.Spec.Upgrade.Remediation = &helmv2.UpgradeRemediation{Retries: 1}
	})
	readyWith(t, key, "1.0.0")
	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.Values = values(t, map[string]any{"fail": true}) })
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool { return runtime.IsStalled(o) })
	if obj.Status.UpgradeFailures != 2 || runtime.Has(obj, helmv2.RemediatedCondition) {
		t.Errorf("upgradeFailures %d, Remediated %v", obj.Status.UpgradeFailures, runtime.Get(obj, helmv2.RemediatedCondition))
	}
	if latest := obj.Status.History.Latest(); latest.Status != "failed" {
		t.Errorf("newest release %s, want the failed upgrade", latest.Status)
	}
}
