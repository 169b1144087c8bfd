package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Event severities. Info and error events become Kubernetes events of type
// Normal and Warning and go to the notification endpoint; trace events, as
// in Flux, are Kubernetes events of type Normal only, which no Alert sees.
const (
	SeverityInfo  = "info"
	SeverityError = "error"
	SeverityTrace = "trace"
)

// Event is what a controller POSTs to the notification endpoint
// (--events-addr) for every event it records.
type Event struct {
	InvolvedObject      corev1.ObjectReference `json:"involvedObject"`
	Severity            string                 `json:"severity"`
	Timestamp           metav1.Time            `json:"timestamp"`
	Message             string                 `json:"message"`
	Reason              string                 `json:"reason"`
	Metadata            map[string]string      `json:"metadata,omitempty"`
	ReportingController string                 `json:"reportingController"`
	ReportingInstance   string                 `json:"reportingInstance,omitempty"`
}

// Recorder records events on gotk objects: as Kubernetes events, and as
// JSON POSTed to the notification endpoint when one is configured. The POST
// happens in the background with a bounded queue and retries, so a slow or
// absent notification controller never slows a reconcile.
type Recorder struct {
	k8s        record.EventRecorder
	scheme     *kruntime.Scheme
	endpoint   string
	controller string
	instance   string
	http       *http.Client
	queue      chan Event
	log        logr.Logger
	now        func() time.Time
	// local receives the events instead of the endpoint when the
	// notification controller runs in this process.
	local func(Event) error
}

// RecorderOptions configures NewRecorder.
type RecorderOptions struct {
	// Endpoint is the URL events are POSTed to; empty disables posting.
	Endpoint string
	// Controller is the reportingController, such as "source-controller".
	Controller string
	// Instance is the reportingInstance, usually the pod name.
	Instance string
	// QueueSize bounds the events waiting to be posted; when full, new
	// events are dropped (and counted in the log) rather than blocking.
	QueueSize int
	Log       logr.Logger
}

// NewRecorder returns a Recorder. Start must run for events to be posted.
func NewRecorder(k8s record.EventRecorder, scheme *kruntime.Scheme, o RecorderOptions) *Recorder {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	return &Recorder{
		k8s:        k8s,
		scheme:     scheme,
		endpoint:   o.Endpoint,
		controller: o.Controller,
		instance:   o.Instance,
		http:       &http.Client{Timeout: 10 * time.Second},
		queue:      make(chan Event, o.QueueSize),
		log:        o.Log,
		now:        time.Now,
	}
}

// Eventf records an event with a formatted message. metadata keys (such as
// "revision") are prefixed with the object's API group in the posted event,
// as the notification controller expects.
func (r *Recorder) Eventf(obj client.Object, metadata map[string]string, severity, reason, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	if r.k8s != nil {
		eventType := corev1.EventTypeNormal
		if severity == SeverityError {
			eventType = corev1.EventTypeWarning
		}
		r.k8s.AnnotatedEventf(obj, metadata, eventType, reason, "%s", msg)
	}
	if severity == SeverityTrace || (r.endpoint == "" && r.local == nil) {
		return
	}
	ev, err := r.newEvent(obj, metadata, severity, reason, msg)
	if err != nil {
		r.log.Error(err, "cannot build event for the notification endpoint")
		return
	}
	select {
	case r.queue <- ev:
	default:
		r.log.Info("event queue full, dropping event", "reason", reason, "object", client.ObjectKeyFromObject(obj))
	}
}

func (r *Recorder) newEvent(obj client.Object, metadata map[string]string, severity, reason, msg string) (Event, error) {
	gvk, err := apiutil.GVKForObject(obj, r.scheme)
	if err != nil {
		return Event{}, err
	}
	var md map[string]string
	if len(metadata) > 0 {
		md = make(map[string]string, len(metadata))
		for k, v := range metadata {
			md[gvk.Group+"/"+k] = v
		}
	}
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	return Event{
		InvolvedObject: corev1.ObjectReference{
			APIVersion:      apiVersion,
			Kind:            kind,
			Namespace:       obj.GetNamespace(),
			Name:            obj.GetName(),
			UID:             obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(),
		},
		Severity:            severity,
		Timestamp:           metav1.NewTime(r.now()),
		Message:             msg,
		Reason:              reason,
		Metadata:            md,
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
	}, nil
}

// DeliverLocally hands every event to accept instead of posting it: the
// notification controller runs in this process, so the events skip the
// network. Call it before Start.
func (r *Recorder) DeliverLocally(accept func(Event) error) {
	r.local = accept
}

// Start posts queued events until ctx ends. It is a manager Runnable.
func (r *Recorder) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-r.queue:
			r.post(ctx, ev)
		}
	}
}

// NeedLeaderElection lets every replica post its own events.
func (r *Recorder) NeedLeaderElection() bool { return false }

// postAttempts bounds how often one event is sent before it is dropped.
const postAttempts = 4

func (r *Recorder) post(ctx context.Context, ev Event) {
	if r.local != nil {
		// A refusal (a duplicate within the rate-limit interval) is an
		// answer, not a failure to retry.
		if err := r.local(ev); err != nil {
			r.log.V(1).Info("event not accepted", "reason", ev.Reason, "error", err.Error())
		}
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		r.log.Error(err, "cannot encode event")
		return
	}
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = r.send(ctx, body)
		var refused *refusedError
		if err == nil || attempt == postAttempts || errors.As(err, &refused) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	if err != nil {
		r.log.Error(err, "cannot post event to the notification endpoint", "reason", ev.Reason,
			"object", ev.InvolvedObject.Namespace+"/"+ev.InvolvedObject.Name)
	}
}

func (r *Recorder) send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// The notification controller already has this event.
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return &refusedError{status: resp.Status}
	case resp.StatusCode >= 300:
		return fmt.Errorf("notification endpoint answered %s", resp.Status)
	}
	return nil
}

// refusedError is a 4xx answer: sending the same event again cannot help.
type refusedError struct{ status string }

func (e *refusedError) Error() string {
	return "notification endpoint refused the event: " + e.status
}
