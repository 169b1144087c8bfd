package ssa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
)

// ObjectStatus is the health of one object as Wait last saw it.
type ObjectStatus struct {
	Ref ObjectRef
	// Status is a kstatus status: Current, InProgress, Failed, Terminating,
	// NotFound or Unknown.
	Status status.Status
	// Message says why, in the words of kstatus or of the health check.
	Message string
}

// String says "Kind/namespace/name: Status: message".
func (s ObjectStatus) String() string {
	if s.Message == "" {
		return fmt.Sprintf("%s: %s", s.Ref, s.Status)
	}
	return fmt.Sprintf("%s: %s: %s", s.Ref, s.Status, s.Message)
}

// HealthError means some objects did not become healthy: one failed (Wait
// stops at once), the timeout ran out, or the context was cancelled (Err
// is then the context's error).
type HealthError struct {
	// Objects are the unhealthy objects, sorted.
	Objects []ObjectStatus
	// Failed is true when Wait stopped because an object failed.
	Failed bool
	// Err is the context error when Wait ran out of time or was cancelled.
	Err error
}

// Error lists the unhealthy objects with their status messages.
func (e *HealthError) Error() string {
	parts := make([]string, len(e.Objects))
	for i, o := range e.Objects {
		parts[i] = o.String()
	}
	switch {
	case e.Failed:
		return "health check failed: " + strings.Join(parts, "; ")
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "timeout waiting for: " + strings.Join(parts, "; ")
	default:
		return fmt.Sprintf("health check stopped (%v) while waiting for: %s", e.Err, strings.Join(parts, "; "))
	}
}

// Unwrap returns the context error, if any.
func (e *HealthError) Unwrap() error { return e.Err }

// firstPoll is how soon Wait reads the objects again after the first
// read; the delay then doubles up to PollInterval, so that objects that
// become ready within a second (most, once applied) are seen at once,
// and slow ones cost one read per PollInterval.
const firstPoll = 250 * time.Millisecond

// Wait polls the objects until all are Current (as
// kstatus computes it, or as the custom health check of their kind says),
// and returns a *HealthError as soon as one has Failed, when timeout runs
// out, or when ctx is cancelled (as the reconciler does when a new
// revision arrives). A timeout of zero waits as long as ctx allows.
func (m *Manager) Wait(ctx context.Context, refs []ObjectRef, timeout time.Duration, exprs []meta.CustomHealthCheck) error {
	checks, err := compileHealthChecks(exprs)
	if err != nil {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	last := map[string]ObjectStatus{}
	for _, r := range refs {
		last[r.ID()] = ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: notChecked}
	}
	pending := append([]ObjectRef(nil), refs...)
	delay := min(firstPoll, m.pollInterval())
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		var mu sync.Mutex
		forEach(ctx, m.concurrency(), pending, func(ctx context.Context, r ObjectRef) {
			st, err := m.statusOf(ctx, r, checks)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// A failed read (often cut short by the deadline) keeps
				// what the last successful read saw.
				if prev := last[r.ID()]; prev.Message == notChecked {
					last[r.ID()] = ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: err.Error()}
				}
				return
			}
			last[r.ID()] = st
		})
		var still, failed []ObjectStatus
		next := pending[:0]
		for _, r := range pending {
			st := last[r.ID()]
			switch st.Status {
			case status.CurrentStatus:
			case status.FailedStatus:
				failed = append(failed, st)
				next = append(next, r)
			default:
				still = append(still, st)
				next = append(next, r)
			}
		}
		pending = next
		if len(failed) > 0 {
			return &HealthError{Objects: sortStatuses(failed), Failed: true}
		}
		if len(pending) == 0 {
			return nil
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return &HealthError{Objects: sortStatuses(still), Err: ctx.Err()}
		case <-timer.C:
		}
		delay = min(2*delay, m.pollInterval())
	}
}

const notChecked = "not checked yet"

// statusOf reads one object and computes its health.
func (m *Manager) statusOf(ctx context.Context, r ObjectRef, checks map[gvKey]*celCheck) (ObjectStatus, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.GroupVersionKind())
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, u)
	switch {
	case apierrors.IsNotFound(err):
		return ObjectStatus{Ref: r, Status: status.NotFoundStatus, Message: "object not found"}, nil
	case err != nil:
		return ObjectStatus{}, err
	}
	s, msg := healthOf(u, checks)
	return ObjectStatus{Ref: r, Status: s, Message: msg}, nil
}

func sortStatuses(s []ObjectStatus) []ObjectStatus {
	refs := make([]ObjectRef, len(s))
	byID := map[string]ObjectStatus{}
	for i, o := range s {
		refs[i] = o.Ref
		byID[o.Ref.ID()] = o
	}
	sortRefs(refs)
	out := make([]ObjectStatus, len(refs))
	for i, r := range refs {
		out[i] = byID[r.ID()]
	}
	return out
}

// waitDefinitions waits, after the first stage, until the CRDs it wrote
// are Established and the Namespaces Active, so that the later stages can
// use them; it gives up after timeout (DefaultStageTimeout when zero).
func (m *Manager) waitDefinitions(ctx context.Context, items []*item, timeout time.Duration) error {
	var refs []ObjectRef
	for _, it := range items {
		if (isCRD(it.ref) || isNamespace(it.ref)) && (it.action == ActionCreated || it.action == ActionConfigured) {
			refs = append(refs, it.ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if timeout <= 0 {
		timeout = DefaultStageTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 100 * time.Millisecond
	for {
		var waiting []ObjectStatus
		for _, r := range refs {
			if st := m.definitionReady(ctx, r); st.Status != status.CurrentStatus {
				waiting = append(waiting, st)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return &HealthError{Objects: sortStatuses(waiting), Err: ctx.Err()}
		case <-time.After(interval):
		}
		if interval < time.Second {
			interval *= 2
		}
	}
}

// definitionReady tells whether a CRD is Established or a Namespace is
// Active.
func (m *Manager) definitionReady(ctx context.Context, r ObjectRef) ObjectStatus {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.GroupVersionKind())
	if err := m.Client.Get(ctx, client.ObjectKey{Name: r.Name}, u); err != nil {
		return ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: err.Error()}
	}
	if isNamespace(r) {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		if phase == "Active" {
			return ObjectStatus{Ref: r, Status: status.CurrentStatus}
		}
		return ObjectStatus{Ref: r, Status: status.InProgressStatus, Message: fmt.Sprintf("namespace phase is %q, not Active", phase)}
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Established" {
			if cm["status"] == "True" {
				return ObjectStatus{Ref: r, Status: status.CurrentStatus}
			}
			return ObjectStatus{Ref: r, Status: status.InProgressStatus, Message: fmt.Sprintf("CRD not established: %v", cm["message"])}
		}
	}
	return ObjectStatus{Ref: r, Status: status.InProgressStatus, Message: "CRD not established yet"}
}
