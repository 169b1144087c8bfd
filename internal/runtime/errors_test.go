package runtime

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestResult(t *testing.T) {
	interval := 10 * time.Minute
	tests := []struct {
		name         string
		err          error
		wantErr      bool
		wantTerminal bool
		wantRequeue  time.Duration
		wantReason   string
	}{
		{name: "success requeues after the interval", wantRequeue: interval, wantReason: "fallback"},
		{
			name:        "waiting requeues after its own delay without an error",
			err:         fmt.Errorf("dependency: %w", Waiting("DependencyNotReady", 30*time.Second, errors.New("dep not ready"))),
			wantRequeue: 30 * time.Second, wantReason: "DependencyNotReady",
		},
		{
			name:    "stalling is terminal",
			err:     fmt.Errorf("spec: %w", Stallingf("InvalidSpec", "semver range %q is invalid", "~>1")),
			wantErr: true, wantTerminal: true, wantReason: "InvalidSpec",
		},
		{
			name:    "a generic failure returns the error for backoff",
			err:     Failed("GitOperationFailed", errors.New("connection refused")),
			wantErr: true, wantReason: "GitOperationFailed",
		},
		{name: "an unclassified error falls back", err: errors.New("boom"), wantErr: true, wantReason: "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Result(tt.err, interval)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := errors.Is(err, reconcile.TerminalError(nil)); got != tt.wantTerminal {
				t.Errorf("terminal = %v, want %v", got, tt.wantTerminal)
			}
			spread := time.Duration(float64(tt.wantRequeue) * JitterFraction)
			if d := res.RequeueAfter - tt.wantRequeue; d < -spread || d > spread {
				t.Errorf("RequeueAfter = %v, want %v ± %v", res.RequeueAfter, tt.wantRequeue, spread)
			}
			if got := ReasonOf(tt.err, "fallback"); got != tt.wantReason {
				t.Errorf("ReasonOf = %q, want %q", got, tt.wantReason)
			}
		})
	}
}

func TestJitterStaysWithinBounds(t *testing.T) {
	d := time.Minute
	lo, hi := d, d
	for range 1000 {
		j := Jitter(d)
		lo, hi = min(lo, j), max(hi, j)
	}
	spread := time.Duration(float64(d) * JitterFraction)
	if lo < d-spread || hi > d+spread {
		t.Errorf("jitter range [%v, %v] exceeds ±%v", lo, hi, spread)
	}
	if lo == hi {
		t.Error("jitter never varied")
	}
	if Jitter(0) != 0 {
		t.Error("zero interval must stay zero")
	}
}
