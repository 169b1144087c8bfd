package runtime

import (
	"errors"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// StallingError is a failure that retrying cannot fix until the object or
// its inputs change: an invalid spec, a SemVer range that does not parse.
// The object is marked Stalled and not requeued.
type StallingError struct {
	// Reason is the condition reason, such as InvalidSpec.
	Reason string
	Err    error
}

func (e *StallingError) Error() string { return e.Err.Error() }
func (e *StallingError) Unwrap() error { return e.Err }

// Stalling wraps err as a StallingError with reason.
func Stalling(reason string, err error) error {
	return &StallingError{Reason: reason, Err: err}
}

// Stallingf formats a StallingError with reason.
func Stallingf(reason, format string, args ...any) error {
	return &StallingError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// WaitingError means the object waits for something outside it, such as
// a dependency or a source that is not ready yet. It is requeued after
// RequeueAfter, without the error backoff.
type WaitingError struct {
	Reason       string
	Err          error
	RequeueAfter time.Duration
}

func (e *WaitingError) Error() string { return e.Err.Error() }
func (e *WaitingError) Unwrap() error { return e.Err }

// Waiting wraps err as a WaitingError that retries after d.
func Waiting(reason string, d time.Duration, err error) error {
	return &WaitingError{Reason: reason, Err: err, RequeueAfter: d}
}

// GenericError is a failure with a condition reason that a retry with
// backoff may fix, such as a network error.
type GenericError struct {
	Reason string
	Err    error
}

func (e *GenericError) Error() string { return e.Err.Error() }
func (e *GenericError) Unwrap() error { return e.Err }

// Failed wraps err with a condition reason.
func Failed(reason string, err error) error {
	return &GenericError{Reason: reason, Err: err}
}

// ReasonOf returns the condition reason that err carries, or fallback.
func ReasonOf(err error, fallback string) string {
	var stall *StallingError
	var wait *WaitingError
	var generic *GenericError
	switch {
	case errors.As(err, &stall):
		return stall.Reason
	case errors.As(err, &wait):
		return wait.Reason
	case errors.As(err, &generic):
		return generic.Reason
	}
	return fallback
}

// IsStalling reports whether err, or an error it wraps, is a StallingError.
func IsStalling(err error) bool {
	var stall *StallingError
	return errors.As(err, &stall)
}

// Result turns the outcome of a reconcile into what controller-runtime
// expects: success requeues after the interval (jittered); a waiting error
// requeues after its delay without logging an error; a stalling error is
// terminal; anything else returns the error for backoff.
func Result(err error, interval time.Duration) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: Jitter(interval)}, nil
	}
	var wait *WaitingError
	if errors.As(err, &wait) {
		return ctrl.Result{RequeueAfter: Jitter(wait.RequeueAfter)}, nil
	}
	if IsStalling(err) {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, err
}
