package runtime

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// object is the smallest Setter: enough for pure condition logic.
type object struct {
	generation int64
	conditions []metav1.Condition
}

func (o *object) GetConditions() []metav1.Condition  { return o.conditions }
func (o *object) SetConditions(c []metav1.Condition) { o.conditions = c }
func (o *object) GetGeneration() int64               { return o.generation }

func cond(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: reason, ObservedGeneration: 3}
}

// summary drops the fields that depend on the clock.
func summary(conds []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, len(conds))
	for i, c := range conds {
		c.LastTransitionTime = metav1.Time{}
		out[i] = c
	}
	return out
}

func TestMarkers(t *testing.T) {
	const (
		T = metav1.ConditionTrue
		F = metav1.ConditionFalse
		U = metav1.ConditionUnknown
	)
	tests := []struct {
		name  string
		start []metav1.Condition
		mark  func(*object)
		want  []metav1.Condition
	}{
		{
			name: "reconciling on a new object makes Ready unknown",
			mark: func(o *object) { MarkReconciling(o, meta.ProgressingReason, "Progressing") },
			want: []metav1.Condition{cond("Ready", U, "Progressing"), cond("Reconciling", T, "Progressing")},
		},
		{
			name:  "reconciling keeps a failed Ready visible",
			start: []metav1.Condition{cond("Ready", F, "BuildFailed")},
			mark:  func(o *object) { MarkReconciling(o, meta.ProgressingWithRetryReason, "ProgressingWithRetry") },
			want:  []metav1.Condition{cond("Ready", F, "BuildFailed"), cond("Reconciling", T, "ProgressingWithRetry")},
		},
		{
			name:  "ready removes Reconciling and Stalled",
			start: []metav1.Condition{cond("Stalled", T, "InvalidSpec"), cond("Reconciling", T, "Progressing"), cond("Ready", F, "InvalidSpec")},
			mark:  func(o *object) { MarkReady(o, meta.SucceededReason, "Succeeded") },
			want:  []metav1.Condition{cond("Ready", T, "Succeeded")},
		},
		{
			name:  "stalled sets Ready false and drops Reconciling",
			start: []metav1.Condition{cond("Reconciling", T, "Progressing")},
			mark:  func(o *object) { MarkStalled(o, meta.InvalidSpecReason, "InvalidSpec") },
			want:  []metav1.Condition{cond("Ready", F, "InvalidSpec"), cond("Stalled", T, "InvalidSpec")},
		},
		{
			name:  "failed keeps Reconciling and drops Stalled",
			start: []metav1.Condition{cond("Reconciling", T, "Progressing"), cond("Stalled", T, "InvalidSpec")},
			mark:  func(o *object) { MarkFailed(o, meta.ArtifactFailedReason, "ArtifactFailed") },
			want:  []metav1.Condition{cond("Ready", F, "ArtifactFailed"), cond("Reconciling", T, "Progressing")},
		},
		{
			name:  "kind-specific conditions sort after the summary ones, by type",
			start: []metav1.Condition{cond("SourceVerified", T, "Succeeded")},
			mark: func(o *object) {
				MarkTrue(o, meta.ArtifactInStorageCondition, meta.SucceededReason, "Succeeded")
				MarkReady(o, meta.SucceededReason, "Succeeded")
			},
			want: []metav1.Condition{cond("Ready", T, "Succeeded"), cond("ArtifactInStorage", T, "Succeeded"), cond("SourceVerified", T, "Succeeded")},
		},
		{
			name:  "outcome of a stalling error",
			start: []metav1.Condition{cond("Reconciling", T, "Progressing")},
			mark:  func(o *object) { MarkOutcome(o, Stallingf("InvalidSpec", "InvalidSpec"), "Failed") },
			want:  []metav1.Condition{cond("Ready", F, "InvalidSpec"), cond("Stalled", T, "InvalidSpec")},
		},
		{
			name: "outcome of a retryable error",
			mark: func(o *object) { MarkOutcome(o, Failed("ArtifactFailed", errors.New("ArtifactFailed")), "Failed") },
			want: []metav1.Condition{cond("Ready", F, "ArtifactFailed"), {Type: "Reconciling", Status: T, Reason: "ProgressingWithRetry", Message: "retrying: ArtifactFailed", ObservedGeneration: 3}},
		},
		{
			name: "outcome of a waiting error",
			mark: func(o *object) {
				MarkOutcome(o, Waiting("DependencyNotReady", 0, errors.New("DependencyNotReady")), "Failed")
			},
			want: []metav1.Condition{cond("Ready", F, "DependencyNotReady"), {Type: "Reconciling", Status: T, Reason: "ProgressingWithRetry", Message: "DependencyNotReady", ObservedGeneration: 3}},
		},
		{
			name:  "delete removes only the named type",
			start: []metav1.Condition{cond("Ready", T, "Succeeded"), cond("FetchFailed", T, "Failed")},
			mark:  func(o *object) { Delete(o, meta.FetchFailedCondition) },
			want:  []metav1.Condition{cond("Ready", T, "Succeeded")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &object{generation: 3, conditions: append([]metav1.Condition(nil), tt.start...)}
			tt.mark(o)
			if diff := cmp.Diff(tt.want, summary(o.conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetKeepsTransitionTimeWhileStatusHolds(t *testing.T) {
	o := &object{generation: 1}
	MarkTrue(o, meta.ReadyCondition, meta.SucceededReason, "first")
	first := Get(o, meta.ReadyCondition).LastTransitionTime
	first.Time = first.Add(-1e9 * 60)
	o.conditions[0].LastTransitionTime = first
	MarkTrue(o, meta.ReadyCondition, meta.SucceededReason, "applied %s", "main@sha1:abc")
	c := Get(o, meta.ReadyCondition)
	if !c.LastTransitionTime.Equal(&first) {
		t.Errorf("transition time moved without a status change: %v -> %v", first, c.LastTransitionTime)
	}
	if c.Message != "applied main@sha1:abc" {
		t.Errorf("message = %q", c.Message)
	}
	MarkFalse(o, meta.ReadyCondition, meta.FailedReason, "broken")
	if Get(o, meta.ReadyCondition).LastTransitionTime.Equal(&first) {
		t.Error("transition time did not move when the status changed")
	}
}

func TestQueries(t *testing.T) {
	o := &object{conditions: []metav1.Condition{
		cond("Ready", metav1.ConditionFalse, "BuildFailed"),
		cond("Stalled", metav1.ConditionTrue, "InvalidSpec"),
	}}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"IsReady", IsReady(o), false},
		{"IsStalled", IsStalled(o), true},
		{"IsFalse(Ready)", IsFalse(o, "Ready"), true},
		{"IsTrue(Healthy) when absent", IsTrue(o, "Healthy"), false},
		{"IsFalse(Healthy) when absent", IsFalse(o, "Healthy"), false},
		{"Has(Stalled)", Has(o, "Stalled"), true},
		{"Reason(Ready)", Reason(o, "Ready"), "BuildFailed"},
		{"Message(Healthy) when absent", Message(o, "Healthy"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
