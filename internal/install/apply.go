package install

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultTimeout bounds each wait of Install.
const DefaultTimeout = 5 * time.Minute

// ObjectRef names one object.
type ObjectRef struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// String reads "Kind namespace/name", or "Kind name" for cluster-scoped
// objects.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

// RefOf returns the reference of an object whose apiVersion and kind are
// set.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	return ObjectRef{GVK: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Progress reports a wait: how many of the objects have reached the wanted
// state, and which are still waited for.
type Progress struct {
	// Phase says what is waited for, such as "CRDs established".
	Phase   string
	Ready   int
	Total   int
	Waiting []ObjectStatus
}

// ObjectStatus is the kstatus of one object.
type ObjectStatus struct {
	Ref     ObjectRef
	Status  status.Status
	Message string
}

// NotReadyError is returned when a wait ends with objects that are not
// Current.
type NotReadyError struct {
	// Want names the state waited for, such as "Available".
	Want    string
	Timeout time.Duration
	Objects []ObjectStatus
}

func (e *NotReadyError) Error() string {
	var parts []string
	for _, o := range e.Objects {
		s := o.Ref.String()
		if o.Message != "" {
			s += " (" + o.Message + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("not %s after %s: %s", e.Want, e.Timeout, strings.Join(parts, "; "))
}

// InstallOptions tune Install.
type InstallOptions struct {
	// Timeout bounds each of the two waits (CRDs Established, controllers
	// Available); DefaultTimeout when zero.
	Timeout time.Duration
	// Interval between status polls; half a second when zero.
	Interval time.Duration
	// OnProgress, when set, is called whenever a wait's state changes.
	OnProgress func(Progress)
	// OnApplied, when set, is called after each object is applied.
	OnApplied func(ObjectRef)
}

// Install applies m: the CRDs first, waiting until they are Established,
// then everything else, waiting until the Deployments are Available. On a
// timeout it returns a *NotReadyError naming what is not ready.
func Install(ctx context.Context, c client.Client, m *Manifests, opts InstallOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	crds, err := m.crdObjects()
	if err != nil {
		return err
	}
	if err := applyAndReport(ctx, c, crds, opts.OnApplied); err != nil {
		return err
	}
	if err := WaitForCurrent(ctx, c, refsOf(crds), WaitOptions{
		Phase: "CRDs established", Want: "Established", Timeout: opts.Timeout,
		Interval: opts.Interval, OnProgress: opts.OnProgress,
	}); err != nil {
		return err
	}
	rest, err := m.objects()
	if err != nil {
		return err
	}
	if err := applyAndReport(ctx, c, rest, opts.OnApplied); err != nil {
		return err
	}
	var deploys []ObjectRef
	for _, u := range rest {
		if u.GetKind() == "Deployment" {
			deploys = append(deploys, RefOf(u))
		}
	}
	return WaitForCurrent(ctx, c, deploys, WaitOptions{
		Phase: "controllers available", Want: "Available", Timeout: opts.Timeout,
		Interval: opts.Interval, OnProgress: opts.OnProgress,
	})
}

func applyAndReport(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, onApplied func(ObjectRef)) error {
	for _, u := range objs {
		if err := ApplyObject(ctx, c, u); err != nil {
			return err
		}
		if onApplied != nil {
			onApplied(RefOf(u))
		}
	}
	return nil
}

// ApplyObject applies one object with server-side apply as the "gotk"
// field manager, taking over fields other managers own. Options such as
// client.DryRunAll are passed on.
func ApplyObject(ctx context.Context, c client.Client, u *unstructured.Unstructured, opts ...client.ApplyOption) error {
	obj := u.DeepCopy()
	all := append([]client.ApplyOption{client.FieldOwner(FieldManager), client.ForceOwnership}, opts...)
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), all...); err != nil {
		return fmt.Errorf("apply %s: %w", RefOf(u), err)
	}
	return nil
}

func refsOf(objs []*unstructured.Unstructured) []ObjectRef {
	out := make([]ObjectRef, 0, len(objs))
	for _, u := range objs {
		out = append(out, RefOf(u))
	}
	return out
}

// WaitOptions tune WaitForCurrent.
type WaitOptions struct {
	Phase      string
	Want       string
	Timeout    time.Duration
	Interval   time.Duration
	OnProgress func(Progress)
}

// WaitForCurrent polls the objects until kstatus computes Current for
// every one (a CRD is Established, a Deployment Available), or the
// timeout passes, and then returns a *NotReadyError listing the others.
func WaitForCurrent(ctx context.Context, c client.Client, refs []ObjectRef, opts WaitOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 500 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	last := ""
	for {
		waiting, err := statuses(ctx, c, refs)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if err == nil {
			p := Progress{Phase: opts.Phase, Ready: len(refs) - len(waiting), Total: len(refs), Waiting: waiting}
			if key := fmt.Sprint(p.Ready, waiting); key != last && opts.OnProgress != nil {
				last = key
				opts.OnProgress(p)
			}
			if len(waiting) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ctx.Err()
			}
			// Read once more with a fresh context, so that the error
			// lists the state at the end rather than a cut-off poll.
			fresh, cancelFresh := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			final, ferr := statuses(fresh, c, refs)
			cancelFresh()
			if ferr != nil {
				if len(waiting) == 0 {
					return fmt.Errorf("waiting for %s: %w", opts.Phase, ferr)
				}
				final = waiting
			}
			if len(final) == 0 && ferr == nil {
				return nil
			}
			return &NotReadyError{Want: opts.Want, Timeout: opts.Timeout, Objects: final}
		case <-time.After(opts.Interval):
		}
	}
}

// statuses returns the objects that are not Current.
func statuses(ctx context.Context, c client.Client, refs []ObjectRef) ([]ObjectStatus, error) {
	var waiting []ObjectStatus
	for _, r := range refs {
		st, err := StatusOf(ctx, c, r)
		if err != nil {
			return nil, err
		}
		if st.Status != status.CurrentStatus {
			waiting = append(waiting, st)
		}
	}
	return waiting, nil
}

// StatusOf reads one object and computes its kstatus.
func StatusOf(ctx context.Context, c client.Client, r ObjectRef) (ObjectStatus, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.GVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return ObjectStatus{Ref: r, Status: status.NotFoundStatus, Message: "not found"}, nil
		}
		return ObjectStatus{}, fmt.Errorf("read %s: %w", r, err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return ObjectStatus{}, fmt.Errorf("compute status of %s: %w", r, err)
	}
	return ObjectStatus{Ref: r, Status: res.Status, Message: res.Message}, nil
}
