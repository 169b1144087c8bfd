// Package ssa is gotk's apply engine: it applies a set of Kubernetes
// objects with server-side apply, in stages (cluster definitions, classes,
// the rest), after validating each stage with a server-side dry-run, and
// returns a ChangeSet that says, object by object, what was created,
// configured, left unchanged or skipped. It also records inventories,
// prunes the objects that left the desired state, waits for objects to
// become healthy (kstatus and CEL health checks) and computes the diffs
// that `gotk diff` prints.
//
// The Kustomization reconciler, HelmRelease drift detection and the CLI
// share it. Objects are handled as unstructured.Unstructured; the client
// given to a Manager may impersonate a service account.
package ssa

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// Manager applies, diffs, prunes and health-checks objects on behalf of
// one owner (one Kustomization, one HelmRelease).
type Manager struct {
	// Client talks to the cluster, possibly impersonating a service
	// account. Its rate limits (QPS, burst) bound how fast an apply goes.
	Client client.Client

	// FieldManager is the server-side apply field manager, such as
	// "kustomize-controller".
	FieldManager string

	// OwnerLabels are set on every applied object and name its owner, such
	// as kustomize.toolkit.fluxcd.io/name and /namespace. Prune deletes
	// only objects that still carry all of them.
	OwnerLabels map[string]string

	// Cache, when set, lets an apply skip the objects that cannot have
	// changed since the last apply. Nil disables skipping.
	Cache *Cache

	// Watched, when set, reads objects from watches the caller keeps (the
	// objects that carry OwnerLabels, by kind): an object the Cache knows
	// that the watch shows with the same resourceVersion costs no request
	// at all. The watch may lag behind an edit made a moment ago; that
	// drift is found by the next apply.
	Watched Watched

	// Concurrency bounds the requests in flight during an apply, a prune
	// or a wait. Zero means DefaultConcurrency.
	Concurrency int

	// PollInterval is the longest time between two reads of the objects
	// Wait waits for (the first comes after 250ms, and the delay doubles
	// up to it). Zero means DefaultPollInterval.
	PollInterval time.Duration
}

// Watched reads an object from a watch. ok is false when the watch has not
// got it (not running, not synced yet, or the object is absent or lost its
// labels): the caller then reads the cluster.
type Watched interface {
	WatchedObject(ref ObjectRef) (obj metav1.Object, ok bool)
}

// Defaults of a Manager's tunables.
const (
	DefaultConcurrency  = 8
	DefaultPollInterval = 2 * time.Second
	// DefaultStageTimeout bounds the wait for CRDs to be Established and
	// Namespaces to be Active between the first stage and the others.
	DefaultStageTimeout = time.Minute
)

// New returns a Manager for c that applies as fieldManager and marks every
// object with ownerLabels, with a fresh Cache.
func New(c client.Client, fieldManager string, ownerLabels map[string]string) *Manager {
	return &Manager{Client: c, FieldManager: fieldManager, OwnerLabels: ownerLabels, Cache: NewCache()}
}

// KustomizationOwner returns the owner labels of the objects that the
// Kustomization name in namespace applies.
func KustomizationOwner(name, namespace string) map[string]string {
	return map[string]string{kustomizev1.NameLabel: name, kustomizev1.NamespaceLabel: namespace}
}

func (m *Manager) concurrency() int {
	if m.Concurrency > 0 {
		return m.Concurrency
	}
	return DefaultConcurrency
}

func (m *Manager) pollInterval() time.Duration {
	if m.PollInterval > 0 {
		return m.PollInterval
	}
	return DefaultPollInterval
}

// ApplyOptions change how Apply treats the objects.
type ApplyOptions struct {
	// Force deletes and recreates objects whose apply fails because an
	// immutable field changed (spec.force); the
	// kustomize.toolkit.fluxcd.io/force: Enabled annotation or label does
	// the same for one object.
	Force bool

	// Ignore lists fields that the apply leaves as they are in the cluster
	// (spec.ignore). On an object that exists, each field a rule names
	// keeps its value in the cluster; a new object is created with the
	// value from the desired state.
	Ignore []meta.IgnoreRule

	// StageTimeout bounds the wait for the CRDs and Namespaces of the first
	// stage to be ready. Zero means DefaultStageTimeout.
	StageTimeout time.Duration
}

// ObjectError is a failure of one object.
type ObjectError struct {
	Ref ObjectRef
	Err error
}

// Error says "Kind/namespace/name: reason".
func (e *ObjectError) Error() string { return e.Ref.String() + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *ObjectError) Unwrap() error { return e.Err }

// ValidationError means the API server rejected some objects of an apply in
// its dry-run (or in the write that validates one object, made before any
// other). Nothing of the stage in Stage, nor of any later stage, was
// written; when Stage is the first stage, the cluster was not touched.
type ValidationError struct {
	Stage    Stage
	Failures []*ObjectError
}

// Error lists the rejected objects with the API server's reasons.
func (e *ValidationError) Error() string {
	if e.Stage == StageClusterDefinitions {
		return "validation failed, nothing was applied: " + joinErrors(e.Failures)
	}
	return fmt.Sprintf("validation failed, nothing of the %s stage or later was applied: %s", e.Stage, joinErrors(e.Failures))
}

// Unwrap returns the failures, for errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// ApplyError means some writes of a stage failed. The objects of that stage
// that are not named may have been written; later stages were not.
type ApplyError struct {
	Stage    Stage
	Failures []*ObjectError
}

// Error lists the objects whose writes failed, with the reasons.
func (e *ApplyError) Error() string {
	return fmt.Sprintf("apply of the %s stage failed: %s", e.Stage, joinErrors(e.Failures))
}

// Unwrap returns the failures, for errors.Is and errors.As.
func (e *ApplyError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

func joinErrors(failures []*ObjectError) string {
	sort.Slice(failures, func(i, j int) bool { return failures[i].Ref.String() < failures[j].Ref.String() })
	parts := make([]string, len(failures))
	for i, f := range failures {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// maxReasonLength is the length past which an API server's rejection is
// retold in short: an immutable Job template comes back with the whole
// template in it, environment values included.
const maxReasonLength = 512

// conciseError shortens a long rejection from the API server to its
// fields and what is wrong with each, without the rejected values. The
// original error stays reachable through errors.As and errors.Is.
func conciseError(err error) error {
	var status apierrors.APIStatus
	if err == nil || len(err.Error()) <= maxReasonLength || !errors.As(err, &status) {
		return err
	}
	st := status.Status()
	if st.Details == nil || len(st.Details.Causes) == 0 {
		return err
	}
	parts := make([]string, 0, len(st.Details.Causes))
	for _, c := range st.Details.Causes {
		detail := c.Message
		if i := strings.LastIndex(detail, ": "); i >= 0 {
			detail = detail[i+2:]
		}
		parts = append(parts, fmt.Sprintf("%s: %s: %s", c.Field, c.Type, detail))
	}
	kind := st.Details.Kind
	if st.Details.Group != "" {
		kind += "." + st.Details.Group
	}
	return &shortError{msg: fmt.Sprintf("%s %q is %s: %s", kind, st.Details.Name, strings.ToLower(string(st.Reason)), strings.Join(parts, "; ")), err: err}
}

type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// errNamespaceMissing is returned for a namespaced object without a
// namespace.
var errNamespaceMissing = errors.New("namespace not specified for a namespaced kind")

// inMetadata reports whether the object's labels or annotations have key
// set to one of values, compared without regard to case, as the
// per-object switches of Flux are read from either.
func inMetadata(labels, annotations map[string]string, key string, values ...string) bool {
	for _, m := range []map[string]string{annotations, labels} {
		v, ok := m[key]
		if !ok {
			continue
		}
		for _, want := range values {
			if strings.EqualFold(v, want) {
				return true
			}
		}
	}
	return false
}
