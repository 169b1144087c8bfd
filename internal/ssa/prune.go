package ssa

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// DeleteOptions change how Delete treats the objects.
type DeleteOptions struct {
	// Action is recorded for each deleted object: ActionPruned (the
	// default) when objects left the desired state, ActionDeleted when
	// their owner is being deleted.
	Action Action

	// WaitTimeout, when set, makes Delete wait until the deleted objects
	// are gone from the API server (finalizers done), for at most this
	// long.
	WaitTimeout time.Duration
}

// Delete deletes the objects in refs that still belong to this Manager's
// owner, with background propagation, and returns what it did to each.
// An object is skipped, and left in the cluster, when its labels say that
// another owner has it now or that nobody does (it lacks the owner labels),
// or when it carries kustomize.toolkit.fluxcd.io/prune: disabled or
// reconcile: disabled. Objects already gone are left out of the change set.
//
// Like Flux, Delete prunes Namespaces and CustomResourceDefinitions too,
// which deletes everything in the Namespace and every object of the CRD's
// kind cluster-wide: mark such objects prune: disabled to keep them. To
// keep custom resources from outliving a prune by a few seconds, objects
// are deleted in the reverse order of the apply stages: ordinary objects
// first, then classes, then Namespaces, CRDs and cluster roles.
func (m *Manager) Delete(ctx context.Context, refs []ObjectRef, opts DeleteOptions) (*ChangeSet, error) {
	action := opts.Action
	if action == "" {
		action = ActionPruned
	}
	results := make([]Action, len(refs))
	gone := make([]bool, len(refs))
	var mu sync.Mutex
	var failures []*ObjectError
	for i := len(stages) - 1; i >= 0; i-- {
		var idx []int
		for j, r := range refs {
			if StageOf(r.Group, r.Kind) == stages[i] {
				idx = append(idx, j)
			}
		}
		forEach(ctx, m.concurrency(), idx, func(ctx context.Context, j int) {
			a, err := m.deleteOne(ctx, refs[j], action)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failures = append(failures, &ObjectError{Ref: refs[j], Err: err})
			case a == "":
				gone[j] = true
			default:
				results[j] = a
			}
		})
	}
	cs := &ChangeSet{}
	for i := len(stages) - 1; i >= 0; i-- {
		for j, r := range refs {
			if StageOf(r.Group, r.Kind) == stages[i] && results[j] != "" {
				cs.Add(r, results[j])
			}
		}
	}
	if len(failures) > 0 {
		return cs, fmt.Errorf("delete failed: %s", joinErrors(failures))
	}
	if err := ctx.Err(); err != nil {
		return cs, err
	}
	if opts.WaitTimeout > 0 {
		if err := m.waitGone(ctx, cs.Refs(action), opts.WaitTimeout); err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// deleteOne deletes one object if it still belongs to the owner. It
// returns the empty action when the object is already gone.
func (m *Manager) deleteOne(ctx context.Context, r ObjectRef, action Action) (Action, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(r.GroupVersionKind())
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, live)
	switch {
	case apierrors.IsNotFound(err), apimeta.IsNoMatchError(err):
		m.Cache.Forget(r)
		return "", nil
	case err != nil:
		return "", err
	}
	labels, annotations := live.GetLabels(), live.GetAnnotations()
	if !m.owns(labels) ||
		inMetadata(labels, annotations, kustomizev1.PruneAnnotation, kustomizev1.DisabledValue) ||
		inMetadata(labels, annotations, kustomizev1.ReconcileAnnotation, kustomizev1.DisabledValue) {
		m.Cache.Forget(r)
		return ActionSkipped, nil
	}
	if !live.GetDeletionTimestamp().IsZero() {
		m.Cache.Forget(r)
		return action, nil // already being deleted
	}
	uid := live.GetUID()
	err = m.Client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	switch {
	case apierrors.IsNotFound(err):
		m.Cache.Forget(r)
		return "", nil
	case apierrors.IsConflict(err):
		// Deleted and created again since we read it: a new object that
		// this prune knows nothing about.
		return ActionSkipped, nil
	case err != nil:
		return "", err
	}
	m.Cache.Forget(r)
	return action, nil
}

// owns reports whether labels carry every owner label with our value.
// With no owner labels configured, every object is ours.
func (m *Manager) owns(labels map[string]string) bool {
	for k, v := range m.OwnerLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// NotGoneError is returned by Delete when objects it deleted still exist
// once DeleteOptions.WaitTimeout has passed: a finalizer that never
// completes, say.
type NotGoneError struct {
	// Left are the objects that still exist, sorted.
	Left    []ObjectRef
	Timeout time.Duration
}

func (e *NotGoneError) Error() string {
	names := make([]string, len(e.Left))
	for i, r := range e.Left {
		names[i] = r.String()
	}
	return fmt.Sprintf("deleted objects still exist after %s: %s", e.Timeout, strings.Join(names, ", "))
}

// waitGone waits until none of refs exists any more. When timeout passes
// first, it returns a *NotGoneError naming those that are left.
func (m *Manager) waitGone(parent context.Context, refs []ObjectRef, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	pending := append([]ObjectRef(nil), refs...)
	sortRefs(pending)
	for {
		var still []ObjectRef
		var mu sync.Mutex
		forEach(ctx, m.concurrency(), pending, func(ctx context.Context, r ObjectRef) {
			live := &metav1.PartialObjectMetadata{}
			live.SetGroupVersionKind(r.GroupVersionKind())
			err := m.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, live)
			if apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err) {
				return
			}
			mu.Lock()
			still = append(still, r)
			mu.Unlock()
		})
		if ctx.Err() != nil {
			// The round was cut short: what the last full round found
			// is what is known to be left.
			return m.notGone(parent, pending, timeout)
		}
		if len(still) == 0 {
			return nil
		}
		sortRefs(still)
		select {
		case <-ctx.Done():
			return m.notGone(parent, still, timeout)
		case <-time.After(m.pollInterval()):
		}
		pending = still
	}
}

// notGone is the error of a wait that ended with left remaining: the
// parent's own error when it was cancelled, else a *NotGoneError.
func (m *Manager) notGone(parent context.Context, left []ObjectRef, timeout time.Duration) error {
	if err := parent.Err(); err != nil {
		return err
	}
	return &NotGoneError{Left: left, Timeout: timeout}
}
