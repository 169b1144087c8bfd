package v2

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGetReleaseName(t *testing.T) {
	long := strings.Repeat("a", 30)
	tests := []struct {
		name, releaseName, targetNamespace string
		want                               string
	}{
		{name: "podinfo", want: "podinfo"},
		{name: "podinfo", targetNamespace: "web", want: "web-podinfo"},
		{name: "podinfo", targetNamespace: "web", releaseName: "mine", want: "mine"},
		// 61 characters: the first 40, "-", and 12 hex digits of the
		// SHA-256 of the whole name (computed independently).
		{name: long, targetNamespace: long, want: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaa-9fc7f9602247"},
		{name: "release-with-a-long-name-x", targetNamespace: "some-front-appended-namespace",
			want: "some-front-appended-namespace-release-wi-a5d62da70a30"},
	}
	for _, tt := range tests {
		hr := &HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: tt.name, Namespace: "apps"},
			Spec:       HelmReleaseSpec{ReleaseName: tt.releaseName, TargetNamespace: tt.targetNamespace},
		}
		if got := hr.GetReleaseName(); got != tt.want {
			t.Errorf("GetReleaseName() = %q, want %q", got, tt.want)
		}
	}
}

func TestShortenReleaseNameIsStable(t *testing.T) {
	name := strings.Repeat("x", 60)
	a, b := ShortenReleaseName(name), ShortenReleaseName(name)
	if a != b || len(a) != MaxReleaseNameLength || a[40] != '-' {
		t.Errorf("ShortenReleaseName(%q) = %q, %q", name, a, b)
	}
	if ShortenReleaseName(name+"y") == a {
		t.Errorf("different names shorten to the same %q", a)
	}
}

func TestDefaults(t *testing.T) {
	hr := &HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: "ns"}}
	if got := hr.GetMaxHistory(); got != 5 {
		t.Errorf("GetMaxHistory() = %d, want 5", got)
	}
	if got := hr.GetTimeout().Duration; got != DefaultTimeout {
		t.Errorf("GetTimeout() = %s, want %s", got, DefaultTimeout)
	}
	if got := hr.GetStorageNamespace(); got != "ns" {
		t.Errorf("GetStorageNamespace() = %q, want ns", got)
	}
	if got := hr.GetReleaseNamespace(); got != "ns" {
		t.Errorf("GetReleaseNamespace() = %q, want ns", got)
	}
	if !hr.UsePersistentClient() {
		t.Error("UsePersistentClient() = false, want true")
	}
	if got := hr.GetUpgrade().GetRemediation().GetStrategy(); got != RollbackRemediationStrategy {
		t.Errorf("upgrade remediation strategy = %q, want rollback", got)
	}
	if hr.GetActiveRemediation() != nil {
		t.Error("GetActiveRemediation() without an attempted action is not nil")
	}
}

func TestShouldHandleForceRequest(t *testing.T) {
	hr := &HelmRelease{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"reconcile.fluxcd.io/requestedAt": "now",
		"reconcile.fluxcd.io/forceAt":     "now",
	}}}
	if !hr.ShouldHandleForceRequest() {
		t.Fatal("first force request not handled")
	}
	if hr.Status.LastHandledForceAt != "now" || hr.Status.LastHandledReconcileAt != "now" {
		t.Errorf("status = %+v, want both handled values set", hr.Status)
	}
	if hr.ShouldHandleForceRequest() {
		t.Error("the same force request was handled twice")
	}
	hr.Annotations["reconcile.fluxcd.io/forceAt"] = "later"
	if hr.ShouldHandleForceRequest() {
		t.Error("a force request that differs from requestedAt was handled")
	}
}

func TestSnapshotsPreviousAndTruncate(t *testing.T) {
	failedTests := map[string]*TestHookStatus{"t": {Phase: "Failed"}}
	snaps := Snapshots{
		{Version: 2, Status: "superseded", TestHooks: &failedTests},
		{Version: 4, Status: "failed"},
		{Version: 1, Status: "superseded"},
		{Version: 3, Status: "deployed"},
	}
	if got := snaps.Latest().Version; got != 4 {
		t.Errorf("Latest() = v%d, want v4", got)
	}
	if got := snaps.Previous(false).Version; got != 3 {
		t.Errorf("Previous(false) = v%d, want v3", got)
	}
	snaps[1].Status = "failed" // v3 after sorting
	if got := snaps.Previous(false).Version; got != 1 {
		t.Errorf("Previous(false) skipping failed tests = v%d, want v1", got)
	}
	if got := snaps.Previous(true).Version; got != 2 {
		t.Errorf("Previous(true) = v%d, want v2", got)
	}
	snaps.Truncate(true)
	if len(snaps) != 3 {
		t.Errorf("Truncate(true) kept %d snapshots, want 3", len(snaps))
	}
}
