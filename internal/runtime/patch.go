package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gotk-dev/gotk/api/meta"
)

// Object is a gotk object: a Kubernetes object with conditions.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// Patcher writes what a reconcile changed on an object back to the API
// server in at most two requests: one merge patch for metadata and spec
// (finalizers, annotations), one for status. It remembers the object as it
// was when the reconcile began, as JSON, so it sends only the difference.
//
// The snapshot is the object's JSON and the patches are computed from the
// top-level fields' JSON: a reconcile that changed nothing costs one
// encoding and a comparison, and one that changed the status decodes only
// the status to compute its patch.
type Patcher struct {
	c      client.Client
	before []byte
}

// NewPatcher snapshots obj; call it before changing obj.
func NewPatcher(obj client.Object, c client.Client) (*Patcher, error) {
	before, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("snapshot %T: %w", obj, err)
	}
	return &Patcher{c: c, before: before}, nil
}

// PatchOption tunes one Patch call.
type PatchOption func(*patchOptions)

type patchOptions struct {
	observedGeneration bool
	owned              map[string]bool
}

// WithObservedGeneration sets status.observedGeneration to the object's
// generation: use it when the reconcile processed the whole spec.
func WithObservedGeneration() PatchOption {
	return func(o *patchOptions) { o.observedGeneration = true }
}

// WithOwnedConditions names the condition types this controller owns. On
// a conflict, conditions of other types are taken from the server as they
// are then, so that another writer's conditions are never overwritten.
// Without it, every condition on the object is owned.
func WithOwnedConditions(types ...string) PatchOption {
	return func(o *patchOptions) {
		if o.owned == nil {
			o.owned = map[string]bool{}
		}
		for _, t := range types {
			o.owned[t] = true
		}
	}
}

// maxConflictRetries bounds how often a status patch is retried after a
// conflict with another writer.
const maxConflictRetries = 5

// Patch sends the changes made to obj since NewPatcher. On success obj holds
// the object as the server returned it and the patcher's snapshot moves on,
// so the same Patcher may be used again for a later change.
func (p *Patcher) Patch(ctx context.Context, obj Object, opts ...PatchOption) error {
	o := &patchOptions{}
	for _, opt := range opts {
		opt(o)
	}
	metaPatch, beforeStatus, desiredStatus, err := p.changes(obj, o)
	if err != nil {
		return err
	}
	if metaPatch == nil && bytes.Equal(beforeStatus, desiredStatus) {
		return nil
	}

	// Metadata and spec first: a finalizer must be on the object before a
	// status that depends on it is written.
	if metaPatch != nil {
		if err := p.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, metaPatch)); err != nil {
			return fmt.Errorf("patch %s: %w", client.ObjectKeyFromObject(obj), err)
		}
	}

	for attempt := 0; ; attempt++ {
		statusPatch, err := mergePatch(statusDoc(beforeStatus), statusDoc(desiredStatus))
		if err != nil {
			return err
		}
		if statusPatch == nil {
			break
		}
		if o.owned != nil {
			// The lock makes a concurrent change to others' conditions a
			// conflict instead of a silent overwrite.
			statusPatch, err = withResourceVersion(statusPatch, obj.GetResourceVersion())
			if err != nil {
				return err
			}
		}
		err = p.c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, statusPatch))
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) || o.owned == nil || attempt >= maxConflictRetries {
			return fmt.Errorf("patch status of %s: %w", client.ObjectKeyFromObject(obj), err)
		}
		ours, err := conditionsOf(desiredStatus)
		if err != nil {
			return err
		}
		if err := p.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		fresh, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		beforeStatus = topLevel(fresh)["status"]
		desiredStatus, err = withConditions(desiredStatus, mergeOwned(obj.GetConditions(), ours, o.owned))
		if err != nil {
			return err
		}
	}

	p.before, err = json.Marshal(obj)
	return err
}

// changes returns what Patch must send for obj: the merge patch of its
// metadata and spec (nil when they did not change), and the JSON of its
// status before and now.
func (p *Patcher) changes(obj Object, o *patchOptions) (metaPatch, beforeStatus, desiredStatus []byte, err error) {
	if o.observedGeneration {
		if err := setObservedGeneration(obj); err != nil {
			return nil, nil, nil, err
		}
	}
	after, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, nil, err
	}
	if bytes.Equal(p.before, after) {
		return nil, nil, nil, nil
	}
	b, a := topLevel(p.before), topLevel(after)
	beforeStatus, desiredStatus = b["status"], a["status"]
	delete(b, "status")
	delete(a, "status")
	if !sameFields(b, a) {
		jb, err := json.Marshal(b)
		if err != nil {
			return nil, nil, nil, err
		}
		ja, err := json.Marshal(a)
		if err != nil {
			return nil, nil, nil, err
		}
		if metaPatch, err = mergePatch(jb, ja); err != nil {
			return nil, nil, nil, err
		}
	}
	return metaPatch, beforeStatus, desiredStatus, nil
}

// setObservedGeneration sets obj's status.observedGeneration to its
// generation. Every gotk kind has the field, in its Status struct.
func setObservedGeneration(obj Object) error {
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if st := v.FieldByName("Status"); st.IsValid() && st.Kind() == reflect.Struct {
			if f := st.FieldByName("ObservedGeneration"); f.IsValid() && f.CanSet() && f.Kind() == reflect.Int64 {
				f.SetInt(obj.GetGeneration())
				return nil
			}
		}
	}
	return fmt.Errorf("%T has no status.observedGeneration", obj)
}

// topLevel splits an object's JSON into its top-level fields, each still
// JSON.
func topLevel(doc []byte) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(doc, &m) // doc comes from json.Marshal
	return m
}

func sameFields(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// statusDoc is the document {"status": status}, or {} without a status.
func statusDoc(status json.RawMessage) []byte {
	if status == nil {
		return []byte("{}")
	}
	out := make([]byte, 0, len(status)+len(`{"status":}`))
	out = append(out, `{"status":`...)
	out = append(out, status...)
	return append(out, '}')
}

// mergeOwned returns the server's conditions with every owned type replaced
// by ours (or removed when we no longer have it).
func mergeOwned(server, ours []metav1.Condition, owned map[string]bool) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(server)+len(ours))
	for _, c := range ours {
		if owned[c.Type] {
			out = append(out, c)
		}
	}
	for _, c := range server {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	sortConditions(out)
	return out
}

// conditionsOf reads status.conditions from a status's JSON.
func conditionsOf(status json.RawMessage) ([]metav1.Condition, error) {
	var s struct {
		Conditions []metav1.Condition `json:"conditions"`
	}
	if status == nil {
		return nil, nil
	}
	return s.Conditions, json.Unmarshal(status, &s)
}

// withConditions returns a status's JSON with its conditions replaced.
func withConditions(status json.RawMessage, conds []metav1.Condition) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if status != nil {
		if err := json.Unmarshal(status, &m); err != nil {
			return nil, err
		}
	}
	data, err := json.Marshal(conds)
	if err != nil {
		return nil, err
	}
	m["conditions"] = data
	return json.Marshal(m)
}

// mergePatch returns the JSON merge patch from a to b, or nil when they are
// equal.
func mergePatch(a, b []byte) ([]byte, error) {
	patch, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(patch, []byte("{}")) {
		return nil, nil
	}
	return patch, nil
}

func withResourceVersion(patch []byte, rv string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["resourceVersion"] = rv
	m["metadata"] = md
	return json.Marshal(m)
}

// Reconciled is an object that Begin can start a reconcile of: an Object
// with spec.suspend that records the reconcile requests it handled.
type Reconciled interface {
	Object
	RequestHolder
	IsSuspended() bool
}

// Before is what an object said when its reconcile began, for the events
// that tell what the reconcile changed.
type Before struct {
	// Ready is whether the object was Ready.
	Ready bool
	// Message is the message of its Ready condition.
	Message string
	// Conditions are its conditions.
	Conditions []metav1.Condition
}

// Begin starts the reconcile of an object that is not being deleted: it
// returns the Patcher of obj after writing the finalizer, first, so that
// nothing is created for an object that could vanish without cleaning up.
// A suspended object is counted as such in the metrics and proceed is
// false: the reconcile ends there. Otherwise Begin records what obj said
// before, handles the reconcile request and marks obj Reconciling.
func Begin(ctx context.Context, c client.Client, obj Reconciled, kind string, m *Metrics) (p *Patcher, before Before, proceed bool, err error) {
	p, err = NewPatcher(obj, c)
	if err != nil {
		return nil, before, false, err
	}
	if !controllerutil.ContainsFinalizer(obj, meta.Finalizer) {
		controllerutil.AddFinalizer(obj, meta.Finalizer)
		if err := p.Patch(ctx, obj); err != nil {
			return nil, before, false, err
		}
	}
	if obj.IsSuspended() {
		ctrl.LoggerFrom(ctx).V(1).Info("reconciliation is suspended")
		m.RecordObject(kind, obj, true)
		return p, before, false, nil
	}
	before = Before{
		Ready:      IsReady(obj),
		Message:    Message(obj, meta.ReadyCondition),
		Conditions: append([]metav1.Condition(nil), obj.GetConditions()...),
	}
	HandleRequest(obj)
	MarkReconciling(obj, meta.ProgressingReason, "reconciliation in progress")
	return p, before, true, nil
}

// Ending ends a reconcile: what Finish needs to write the object's status
// and record its metrics.
type Ending struct {
	// Kind is the object's kind, for the metrics.
	Kind string
	// Metrics records the object's conditions and the reconcile's
	// duration.
	Metrics *Metrics
	// Start is when the reconcile began.
	Start time.Time
	// Patcher holds the object as it was when the reconcile began.
	Patcher *Patcher
	// Suspended is exported as the object's suspend status.
	Suspended bool
}

// Finish writes what the reconcile changed on obj, with its
// observedGeneration, records its metrics, and turns err into the result
// controller-runtime expects: after a success the next reconcile comes
// after requeue.
func (e Ending) Finish(ctx context.Context, obj Object, err error, requeue time.Duration) (ctrl.Result, error) {
	if perr := e.Patcher.Patch(ctx, obj, WithObservedGeneration()); perr != nil {
		err = errors.Join(err, perr)
	}
	e.Metrics.RecordObject(e.Kind, obj, e.Suspended)
	e.Metrics.ObserveDuration(e.Kind, e.Start)
	return Result(err, requeue)
}

// Phases runs the phases of a reconcile in order on s, stopping at the
// first error. With a timeout above zero they share a context that ends
// after it; the status patch that follows them is not under it.
func Phases[S any](ctx context.Context, timeout time.Duration, s S, phases ...func(context.Context, S) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for _, phase := range phases {
		if err := phase(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
