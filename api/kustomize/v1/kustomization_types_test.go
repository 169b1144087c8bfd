package v1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestTimeoutAndRetryIntervalDefaults(t *testing.T) {
	ks := &Kustomization{Spec: KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute}}}
	if got := ks.GetTimeout(); got != 10*time.Minute {
		t.Errorf("GetTimeout() = %s, want the interval", got)
	}
	if got := ks.GetRetryInterval(); got != 10*time.Minute {
		t.Errorf("GetRetryInterval() = %s, want the interval", got)
	}
	ks.Spec.Timeout, ks.Spec.RetryInterval = duration(time.Minute), duration(30*time.Second)
	if got := ks.GetTimeout(); got != time.Minute {
		t.Errorf("GetTimeout() = %s, want 1m", got)
	}
	if got := ks.GetRetryInterval(); got != 30*time.Second {
		t.Errorf("GetRetryInterval() = %s, want 30s", got)
	}
}

func TestPruneOnDelete(t *testing.T) {
	tests := []struct {
		policy string
		prune  bool
		want   bool
	}{
		{"", true, true},
		{"", false, false},
		{DeletionPolicyMirrorPrune, true, true},
		{DeletionPolicyDelete, false, true},
		{DeletionPolicyWaitForTermination, false, true},
		{DeletionPolicyOrphan, true, false},
	}
	for _, tt := range tests {
		ks := &Kustomization{Spec: KustomizationSpec{DeletionPolicy: tt.policy, Prune: tt.prune}}
		if got := ks.PruneOnDelete(); got != tt.want {
			t.Errorf("policy %q prune %v: PruneOnDelete() = %v, want %v", tt.policy, tt.prune, got, tt.want)
		}
	}
}

func TestHistoryUpsert(t *testing.T) {
	var h History
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.Upsert("sha256:a", t0, time.Second, "ReconciliationSucceeded", nil)
	h.Upsert("sha256:b", t0.Add(time.Minute), time.Second, "ReconciliationSucceeded", nil)
	h.Upsert("sha256:a", t0.Add(2*time.Minute), 2*time.Second, "ReconciliationSucceeded", map[string]string{"revision": "main@sha1:1"})
	if len(h) != 2 {
		t.Fatalf("len = %d, want 2", len(h))
	}
	got := h.Latest()
	if got.Digest != "sha256:a" || got.TotalReconciliations != 2 || !got.FirstReconciled.Time.Equal(t0) ||
		got.LastReconciledDuration.Duration != 2*time.Second || got.Metadata["revision"] != "main@sha1:1" {
		t.Errorf("Latest() = %+v", got)
	}
	h.Upsert("sha256:a", t0.Add(3*time.Minute), time.Second, "ReconciliationFailed", nil)
	if len(h) != 3 || h.Latest().TotalReconciliations != 1 {
		t.Errorf("a new status did not start a new snapshot: %+v", h)
	}
	for i := range 10 {
		h.Upsert("sha256:"+string(rune('c'+i)), t0, time.Second, "ReconciliationSucceeded", nil)
	}
	if len(h) != HistoryMaxSize {
		t.Errorf("len = %d, want %d", len(h), HistoryMaxSize)
	}
}
