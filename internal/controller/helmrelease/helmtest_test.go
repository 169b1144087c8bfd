package helmrelease

import (
	"strings"
	"testing"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// With test.enable, the chart's test hooks run after the install:
// TestSuccess and Ready say so and the snapshot records the hooks. A test
// that fails after an upgrade is remediated like a failed upgrade (one
// retry: rolled back, then Stalled), unless test.ignoreFailures.
func TestHelmTests(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Test = &helmv2.Test{Enable: true}
		o.Spec.Upgrade.Remediation = &helmv2.UpgradeRemediation{Retries: 1}
		o.Spec.Values = values(t, map[string]any{"tests": true})
	})
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && runtime.IsTrue(o, helmv2.TestSuccessCondition)
	})
	if r := runtime.Reason(obj, meta.ReadyCondition); r != helmv2.TestSucceededReason {
		t.Errorf("Ready reason %q, want %s", r, helmv2.TestSucceededReason)
	}
	hooks := obj.Status.History.Latest().GetTestHooks()
	if h, ok := hooks["web-test"]; !ok || h.Phase != "Succeeded" {
		t.Errorf("test hooks in the snapshot: %v", hooks)
	}
	waitEvent(t, ns, "web", helmv2.TestSucceededReason, "1 test hooks completed successfully")

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"tests": true, "testFail": true, "greeting": "untested"})
	})
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool { return runtime.IsStalled(o) })
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), runtime.Message(obj, meta.ReadyCondition))
	if !runtime.IsFalse(obj, helmv2.TestSuccessCondition) || runtime.Reason(obj, helmv2.RemediatedCondition) != helmv2.RollbackSucceededReason {
		t.Errorf("TestSuccess %v, Remediated %v", runtime.Get(obj, helmv2.TestSuccessCondition), runtime.Get(obj, helmv2.RemediatedCondition))
	}
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "Bad_Test_Name") {
		t.Errorf("Ready message %q does not name the failing test", msg)
	}
	greetingIs(t, ns, "web", "hello")

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Test.IgnoreFailures = true
	})
	greetingIs(t, ns, "web", "untested")
	waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation
	})
}
