package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gotk-dev/gotk/internal/runtime"
)

// DefaultMaxEventSize caps the body of one posted event. The controllers'
// events are a few kilobytes; Kubernetes caps event messages near 1 KiB
// and gotk's messages name files and objects, so 512 KiB leaves room.
const DefaultMaxEventSize = 512 << 10

// EventServer receives the events the controllers POST to --events-addr,
// drops duplicates within the rate-limit interval and hands the rest to
// the Dispatcher.
type EventServer struct {
	// Addr is where it listens (--events-listen-addr).
	Addr string
	// MaxSize caps the body of an event; 0 takes DefaultMaxEventSize.
	MaxSize    int64
	Dispatcher *Dispatcher
	Log        logr.Logger

	limiter *limiter
	// base is the context deliveries run in: the server's, not the
	// request's, which ends when the 202 is written.
	mu   sync.Mutex
	base context.Context
	// bound receives the address actually listened on.
	bound chan string
}

// NewEventServer returns an EventServer that lets one copy of an event
// through per interval.
func NewEventServer(addr string, interval time.Duration, d *Dispatcher, log logr.Logger) *EventServer {
	return &EventServer{Addr: addr, Dispatcher: d, Log: log, limiter: newLimiter(interval), base: context.Background(), bound: make(chan string, 1)}
}

// Start serves until ctx ends. It is a manager Runnable.
func (s *EventServer) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("event server on --events-listen-addr=%s: %w", s.Addr, err)
	}
	s.mu.Lock()
	s.base = ctx
	s.mu.Unlock()
	s.bound <- l.Addr().String()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	s.Log.Info("event server listening", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.Dispatcher.Wait()
	return nil
}

// Bound returns the address the server listens on, once it does.
func (s *EventServer) Bound(ctx context.Context) (string, error) {
	select {
	case a := <-s.bound:
		s.bound <- a
		return a, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// NeedLeaderElection lets every replica receive events: the Service
// sends each to one of them.
func (s *EventServer) NeedLeaderElection() bool { return false }

// RejectedError is an event that the server refuses, with the HTTP status
// it answers.
type RejectedError struct {
	Code int
	Err  error
}

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

func rejected(code int, format string, args ...any) error {
	return &RejectedError{Code: code, Err: fmt.Errorf(format, args...)}
}

// ServeHTTP accepts POST / with one event as JSON: 202 when accepted, 400
// when malformed, 413 when too large, 429 for a duplicate within the
// rate-limit interval.
func (s *EventServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "events are POSTed", http.StatusMethodNotAllowed)
		return
	}
	max := s.MaxSize
	if max <= 0 {
		max = DefaultMaxEventSize
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.Log.Info("event refused: body too large", "limit", max, "remote", r.RemoteAddr)
			http.Error(w, fmt.Sprintf("event larger than %d bytes", max), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	ev, err := decodeEvent(body)
	if err != nil {
		s.Log.Info("malformed event refused", "error", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "malformed event: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.Accept(ev); err != nil {
		var rej *RejectedError
		if errors.As(err, &rej) {
			http.Error(w, err.Error(), rej.Code)
			return
		}
		s.Log.Error(err, "event not dispatched")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// Accept checks, de-duplicates and dispatches one event: what the HTTP
// handler does after decoding, and what a controller in the same process
// calls instead of posting.
func (s *EventServer) Accept(ev Event) error {
	if err := validate(ev); err != nil {
		s.Log.Info("malformed event refused", "error", err.Error())
		return &RejectedError{Code: http.StatusBadRequest, Err: err}
	}
	ev = cleanMetadata(ev)
	if !s.limiter.allow(eventKey(ev)) {
		s.Log.V(1).Info("duplicate event within the rate-limit interval dropped", "object",
			ev.InvolvedObject.Kind+"/"+ev.InvolvedObject.Namespace+"/"+ev.InvolvedObject.Name, "reason", ev.Reason)
		return rejected(http.StatusTooManyRequests, "the same event was accepted less than the rate-limit interval ago")
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if _, err := s.Dispatcher.Dispatch(base, ev); err != nil {
		return err
	}
	return nil
}

// decodeEvent reads one event from JSON and checks it.
func decodeEvent(body []byte) (Event, error) {
	ev := Event{}
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, err
	}
	return ev, validate(ev)
}

// validate checks the fields every event must have.
func validate(ev Event) error {
	o := ev.InvolvedObject
	var missing []string
	for field, v := range map[string]string{"involvedObject.kind": o.Kind, "involvedObject.name": o.Name,
		"involvedObject.namespace": o.Namespace, "message": ev.Message, "reason": ev.Reason} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("event lacks %s", strings.Join(missing, ", "))
	}
	switch ev.Severity {
	case runtime.SeverityInfo, runtime.SeverityError, runtime.SeverityTrace:
	default:
		return fmt.Errorf("event severity %q is not info, error or trace", ev.Severity)
	}
	return nil
}

// cleanMetadata keeps the metadata keys that the reporting controller
// prefixed with the object's API group, without the prefix, and drops the
// checksum and digest, which mean nothing to a person.
func cleanMetadata(ev Event) Event {
	group := ""
	if gv, err := schema.ParseGroupVersion(ev.InvolvedObject.APIVersion); err == nil {
		group = gv.Group
	}
	md := map[string]string{}
	for k, v := range ev.Metadata {
		key, ok := strings.CutPrefix(k, group+"/")
		if !ok || group == "" || key == "checksum" || key == "digest" {
			continue
		}
		md[key] = v
	}
	ev.Metadata = md
	return ev
}
