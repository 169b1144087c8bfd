package runtime

import (
	"errors"
	"fmt"
	"sort"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// Getter is an object whose status carries conditions.
type Getter interface {
	GetConditions() []metav1.Condition
}

// Setter is a Getter whose conditions can be replaced.
type Setter interface {
	Getter
	SetConditions([]metav1.Condition)
	GetGeneration() int64
}

// Get returns the condition of type t, or nil.
func Get(obj Getter, t string) *metav1.Condition {
	return apimeta.FindStatusCondition(obj.GetConditions(), t)
}

// Has reports whether obj has a condition of type t.
func Has(obj Getter, t string) bool { return Get(obj, t) != nil }

// IsTrue reports whether the condition t exists with status True.
func IsTrue(obj Getter, t string) bool {
	return apimeta.IsStatusConditionTrue(obj.GetConditions(), t)
}

// IsFalse reports whether the condition t exists with status False.
func IsFalse(obj Getter, t string) bool {
	return apimeta.IsStatusConditionFalse(obj.GetConditions(), t)
}

// IsReady reports whether Ready is True.
func IsReady(obj Getter) bool { return IsTrue(obj, meta.ReadyCondition) }

// IsStalled reports whether Stalled is True.
func IsStalled(obj Getter) bool { return IsTrue(obj, meta.StalledCondition) }

// Reason returns the reason of condition t, or "".
func Reason(obj Getter, t string) string {
	if c := Get(obj, t); c != nil {
		return c.Reason
	}
	return ""
}

// Message returns the message of condition t, or "".
func Message(obj Getter, t string) string {
	if c := Get(obj, t); c != nil {
		return c.Message
	}
	return ""
}

// Set puts a condition on obj. The transition time changes only when the
// status does, and observedGeneration is the object's generation.
func Set(obj Setter, t string, status metav1.ConditionStatus, reason, format string, args ...any) {
	conds := obj.GetConditions()
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	apimeta.SetStatusCondition(&conds, metav1.Condition{
		Type:               t,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: obj.GetGeneration(),
	})
	sortConditions(conds)
	obj.SetConditions(conds)
}

// MarkTrue sets condition t to True.
func MarkTrue(obj Setter, t, reason, format string, args ...any) {
	Set(obj, t, metav1.ConditionTrue, reason, format, args...)
}

// MarkFalse sets condition t to False.
func MarkFalse(obj Setter, t, reason, format string, args ...any) {
	Set(obj, t, metav1.ConditionFalse, reason, format, args...)
}

// MarkUnknown sets condition t to Unknown.
func MarkUnknown(obj Setter, t, reason, format string, args ...any) {
	Set(obj, t, metav1.ConditionUnknown, reason, format, args...)
}

// Delete removes condition t.
func Delete(obj Setter, t string) {
	conds := obj.GetConditions()
	apimeta.RemoveStatusCondition(&conds, t)
	obj.SetConditions(conds)
}

// MarkReconciling records that work is in progress: Reconciling=True, and
// Ready=Unknown unless Ready is already False (a failure stays visible
// while a retry runs).
func MarkReconciling(obj Setter, reason, format string, args ...any) {
	MarkTrue(obj, meta.ReconcilingCondition, reason, format, args...)
	if !IsFalse(obj, meta.ReadyCondition) {
		MarkUnknown(obj, meta.ReadyCondition, reason, format, args...)
	}
}

// MarkStalled records a failure that retrying cannot fix: Stalled=True,
// Ready=False, no Reconciling.
func MarkStalled(obj Setter, reason, format string, args ...any) {
	MarkTrue(obj, meta.StalledCondition, reason, format, args...)
	MarkFalse(obj, meta.ReadyCondition, reason, format, args...)
	Delete(obj, meta.ReconcilingCondition)
}

// MarkReady records success: Ready=True, and neither Reconciling nor
// Stalled.
func MarkReady(obj Setter, reason, format string, args ...any) {
	MarkTrue(obj, meta.ReadyCondition, reason, format, args...)
	Delete(obj, meta.ReconcilingCondition)
	Delete(obj, meta.StalledCondition)
}

// MarkFailed records a failure that a retry may fix: Ready=False,
// Stalled removed. Reconciling stays as the caller left it.
func MarkFailed(obj Setter, reason, format string, args ...any) {
	MarkFalse(obj, meta.ReadyCondition, reason, format, args...)
	Delete(obj, meta.StalledCondition)
}

// conditionOrder puts the summary conditions first, as kubectl and gotk
// print them; the rest follow by type.
var conditionOrder = map[string]int{
	meta.ReadyCondition:       0,
	meta.ReconcilingCondition: 1,
	meta.StalledCondition:     2,
}

func sortConditions(conds []metav1.Condition) {
	rank := func(t string) int {
		if r, ok := conditionOrder[t]; ok {
			return r
		}
		return len(conditionOrder)
	}
	sort.SliceStable(conds, func(i, j int) bool {
		ri, rj := rank(conds[i].Type), rank(conds[j].Type)
		if ri != rj {
			return ri < rj
		}
		return ri == len(conditionOrder) && conds[i].Type < conds[j].Type
	})
}

// MarkOutcome sets Ready, Reconciling and Stalled from the error a
// reconcile ended with: a stalling error stalls; a waiting error, or any
// other, leaves Ready False with its reason and Reconciling True while the
// retry is due. Success is the caller's to record with MarkReady, since
// only it knows what to say.
func MarkOutcome(obj Setter, err error, fallbackReason string) {
	reason := ReasonOf(err, fallbackReason)
	msg := err.Error()
	if IsStalling(err) {
		MarkStalled(obj, reason, "%s", msg)
		return
	}
	var wait *WaitingError
	if errors.As(err, &wait) {
		MarkReconciling(obj, meta.ProgressingWithRetryReason, "%s", msg)
	} else {
		MarkReconciling(obj, meta.ProgressingWithRetryReason, "retrying: %s", msg)
	}
	MarkFailed(obj, reason, "%s", msg)
}
