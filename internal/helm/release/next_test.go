package release

import (
	"testing"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

func TestNext(t *testing.T) {
	want := Desired{ChartName: "app", ChartVersion: "1.1.0", ConfigDigest: "sha256:new"}
	inSync := &Observed{Version: 2, Status: "deployed", ChartName: "app", ChartVersion: "1.1.0", ConfigDigest: "sha256:new", CanRollback: true}
	old := &Observed{Version: 1, Status: "deployed", ChartName: "app", ChartVersion: "1.0.0", ConfigDigest: "sha256:old"}
	failed := &Observed{Version: 2, Status: "failed", ChartName: "app", ChartVersion: "1.1.0", ConfigDigest: "sha256:new", CanRollback: true}
	failedFirst := &Observed{Version: 1, Status: "failed", ChartName: "app", ChartVersion: "1.1.0", ConfigDigest: "sha256:new"}
	retries := func(n int) func(*helmv2.HelmRelease) {
		return func(hr *helmv2.HelmRelease) {
			hr.Spec.Upgrade = &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: n}}
			hr.Spec.Install = &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: n}}
		}
	}
	upgraded := func(failures int64) func(*helmv2.HelmRelease) {
		return func(hr *helmv2.HelmRelease) {
			hr.Status.LastAttemptedReleaseAction = helmv2.ReleaseActionUpgrade
			hr.Status.UpgradeFailures = failures
		}
	}
	installed := func(failures int64) func(*helmv2.HelmRelease) {
		return func(hr *helmv2.HelmRelease) {
			hr.Status.LastAttemptedReleaseAction = helmv2.ReleaseActionInstall
			hr.Status.InstallFailures = failures
		}
	}
	tests := []struct {
		name  string
		cur   *Observed
		force bool
		spec  []func(*helmv2.HelmRelease)
		want  Action
	}{
		{name: "absent", want: Install},
		{name: "uninstalled", cur: &Observed{Status: "uninstalled"}, want: Install},
		{name: "absent, install retries exhausted", spec: []func(*helmv2.HelmRelease){installed(1)}, want: Stall},
		{name: "pending", cur: &Observed{Status: "pending-upgrade"}, want: Unlock},
		{name: "in sync", cur: inSync, want: None},
		{name: "in sync, forced", cur: inSync, force: true, want: Upgrade},
		{name: "new chart or values", cur: old, want: Upgrade},
		{name: "new post-rendering", cur: &Observed{Version: 2, Status: "deployed", ChartName: "app", ChartVersion: "1.1.0",
			ConfigDigest: "sha256:new", RenderDigest: "0123", CanRollback: true}, want: Upgrade},
		{name: "new post-rendering, retries exhausted", cur: &Observed{Version: 2, Status: "deployed", ChartName: "app", ChartVersion: "1.1.0",
			ConfigDigest: "sha256:new", RenderDigest: "0123", CanRollback: true}, spec: []func(*helmv2.HelmRelease){upgraded(1)}, want: Stall},
		{name: "rolled back, retries left", cur: old, spec: []func(*helmv2.HelmRelease){retries(1), upgraded(1)}, want: Upgrade},
		{name: "rolled back, retries exhausted", cur: old, spec: []func(*helmv2.HelmRelease){retries(1), upgraded(2)}, want: Stall},
		{name: "upgrade failed, retries left: roll back", cur: failed, spec: []func(*helmv2.HelmRelease){retries(2), upgraded(1)}, want: Rollback},
		{name: "upgrade failed, none left, remediateLastFailure by default with retries", cur: failed,
			spec: []func(*helmv2.HelmRelease){retries(1), upgraded(2)}, want: Rollback},
		{name: "upgrade failed, no retries: stall", cur: failed, spec: []func(*helmv2.HelmRelease){upgraded(1)}, want: Stall},
		{name: "upgrade failed, uninstall strategy", cur: failed, spec: []func(*helmv2.HelmRelease){retries(1), upgraded(1), func(hr *helmv2.HelmRelease) {
			s := helmv2.UninstallRemediationStrategy
			hr.Spec.Upgrade.Remediation.Strategy = &s
		}}, want: Uninstall},
		{name: "upgrade failed, RetryOnFailure", cur: failed, spec: []func(*helmv2.HelmRelease){retries(1), upgraded(1), func(hr *helmv2.HelmRelease) {
			hr.Spec.Upgrade.Strategy = &helmv2.UpgradeStrategy{Name: helmv2.ActionStrategyRetryOnFailure}
		}}, want: Upgrade},
		{name: "install failed, retries left: uninstall", cur: failedFirst, spec: []func(*helmv2.HelmRelease){retries(1), installed(1)}, want: Uninstall},
		{name: "install failed, no retries", cur: failedFirst, spec: []func(*helmv2.HelmRelease){installed(1)}, want: Stall},
		{name: "install failed, infinite retries", cur: failedFirst, spec: []func(*helmv2.HelmRelease){retries(-1), installed(40)}, want: Uninstall},
		{name: "failed, not counted (unlocked): carry on", cur: failed, spec: []func(*helmv2.HelmRelease){upgraded(0)}, want: Upgrade},
		{name: "failed first install, not counted", cur: failedFirst, want: Install},
		{name: "tests enabled, not run", cur: inSync, spec: []func(*helmv2.HelmRelease){func(hr *helmv2.HelmRelease) {
			hr.Spec.Test = &helmv2.Test{Enable: true}
		}}, want: Test},
		{name: "tests failed, ignored", cur: &Observed{Version: 2, Status: "deployed", ChartName: "app", ChartVersion: "1.1.0",
			ConfigDigest: "sha256:new", Tested: true, TestFailed: true}, spec: []func(*helmv2.HelmRelease){func(hr *helmv2.HelmRelease) {
			hr.Spec.Test = &helmv2.Test{Enable: true, IgnoreFailures: true}
		}}, want: None},
		{name: "tests failed: remediate", cur: &Observed{Version: 2, Status: "deployed", ChartName: "app", ChartVersion: "1.1.0",
			ConfigDigest: "sha256:new", Tested: true, TestFailed: true, CanRollback: true}, spec: []func(*helmv2.HelmRelease){retries(1), upgraded(1), func(hr *helmv2.HelmRelease) {
			hr.Spec.Test = &helmv2.Test{Enable: true}
		}}, want: Rollback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hr := &helmv2.HelmRelease{}
			for _, f := range tc.spec {
				f(hr)
			}
			d := want
			d.Force = tc.force
			if got := Next(hr, tc.cur, d); got != tc.want {
				t.Errorf("Next = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestValuesHelpers(t *testing.T) {
	merged := MergeValues(map[string]any{"a": map[string]any{"x": 1, "y": 1}, "b": 1}, map[string]any{"a": map[string]any{"y": 2}, "c": 3})
	if ConfigDigest(merged) != ConfigDigest(map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": 1, "c": 3}) {
		t.Errorf("merged %v", merged)
	}
	if ConfigDigest(nil) != ConfigDigest(map[string]any{}) {
		t.Error("no values and empty values differ")
	}
	v := map[string]any{}
	if err := SetPath(v, "auth.token", `a,b=c\d`); err != nil {
		t.Fatal(err)
	}
	if got := v["auth"].(map[string]any)["token"]; got != `a,b=c\d` {
		t.Errorf("targetPath value %q", got)
	}
	if _, err := ParseValues([]byte("a: [b"), "key"); err == nil {
		t.Error("invalid YAML parsed")
	}
}
