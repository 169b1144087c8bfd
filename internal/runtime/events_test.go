package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// The recorder writes a Kubernetes event and POSTs the documented JSON to a
// real HTTP server on loopback.
func TestRecorderPostsAndRecords(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		received <- body
	}))
	defer srv.Close()

	cs := kubernetes.NewForConfigOrDie(env.Config)
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k8s := broadcaster.NewRecorder(env.Scheme, corev1.EventSource{Component: "gotk-controller"})

	r := NewRecorder(k8s, env.Scheme, RecorderOptions{
		Endpoint: srv.URL, Controller: "source-controller", Instance: "gotk-0", Log: testr.New(t),
	})
	go func() { _ = r.Start(ctx) }()

	ns := env.Namespace(t)
	obj := newGitRepository(t, ns)
	r.Eventf(obj, map[string]string{"revision": "main@sha1:abc"}, SeverityInfo, meta.NewRevisionReason,
		"stored artifact for revision %s", "main@sha1:abc")

	var body []byte
	select {
	case body = <-received:
	case <-time.After(30 * time.Second):
		t.Fatal("no event was posted")
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"involvedObject", "severity", "timestamp", "message", "reason", "metadata", "reportingController", "reportingInstance"} {
		if _, ok := got[key]; !ok {
			t.Errorf("posted event lacks %q: %s", key, body)
		}
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	want := corev1.ObjectReference{
		APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository",
		Namespace: ns, Name: "podinfo", UID: obj.UID, ResourceVersion: obj.ResourceVersion,
	}
	if ev.InvolvedObject != want {
		t.Errorf("involvedObject = %+v, want %+v", ev.InvolvedObject, want)
	}
	if ev.Severity != "info" || ev.Reason != "NewRevision" || ev.Message != "stored artifact for revision main@sha1:abc" ||
		ev.ReportingController != "source-controller" || ev.ReportingInstance != "gotk-0" || ev.Timestamp.IsZero() {
		t.Errorf("event = %+v", ev)
	}
	if ev.Metadata["source.toolkit.fluxcd.io/revision"] != "main@sha1:abc" {
		t.Errorf("metadata = %v", ev.Metadata)
	}

	// The same event is a Kubernetes event on the object.
	deadline := time.Now().Add(30 * time.Second)
	for {
		list := &corev1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 {
			e := list.Items[0]
			if e.Type != corev1.EventTypeNormal || e.Reason != "NewRevision" || e.InvolvedObject.Name != "podinfo" {
				t.Errorf("kubernetes event = %+v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Kubernetes event was recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Trace events are Kubernetes events of type Normal and never go to the
// notification endpoint, as in Flux; a failing endpoint is retried.
func TestRecorderRetriesAndTraceSeverity(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type attempt struct {
		n      int
		reason string
	}
	attempts := make(chan attempt, 10)
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		_ = json.NewDecoder(r.Body).Decode(&ev)
		n++
		attempts <- attempt{n, ev.Reason}
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	k8s := record.NewFakeRecorder(10)
	r := NewRecorder(k8s, env.Scheme, RecorderOptions{Endpoint: srv.URL, Controller: "c", Log: testr.New(t)})
	go func() { _ = r.Start(ctx) }()

	obj := newGitRepository(t, env.Namespace(t))
	r.Eventf(obj, nil, SeverityTrace, "Traced", "created")
	r.Eventf(obj, nil, SeverityInfo, "Progressing", "working")
	for want := 1; want <= 3; want++ {
		select {
		case got := <-attempts:
			if got.n != want || got.reason != "Progressing" {
				t.Fatalf("attempt %d of %s, want %d of Progressing (the trace event is not posted)", got.n, got.reason, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("attempt %d never came", want)
		}
	}
	for _, want := range []string{"Normal Traced created", "Normal Progressing working"} {
		select {
		case e := <-k8s.Events:
			if !strings.HasPrefix(e, want) {
				t.Errorf("Kubernetes event %q, want %q", e, want)
			}
		default:
			t.Errorf("no Kubernetes event %q", want)
		}
	}
}

// A 4xx answer is final: a duplicate (429) or a refused event (400) is not
// sent again. The queue posts in order, so when the second event arrives
// the first was sent exactly once.
func TestRecorderDoesNotRetryRefusedEvents(t *testing.T) {
	testenv.Require(t)
	for _, code := range []int{http.StatusTooManyRequests, http.StatusBadRequest} {
		ctx, cancel := context.WithCancel(context.Background())
		reasons := make(chan string, 10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ev Event
			_ = json.NewDecoder(r.Body).Decode(&ev)
			reasons <- ev.Reason
			if ev.Reason == "First" {
				w.WriteHeader(code)
			}
		}))
		r := NewRecorder(nil, env.Scheme, RecorderOptions{Endpoint: srv.URL, Controller: "c", Log: testr.New(t)})
		go func() { _ = r.Start(ctx) }()
		obj := newGitRepository(t, env.Namespace(t))
		r.Eventf(obj, nil, SeverityInfo, "First", "one")
		r.Eventf(obj, nil, SeverityInfo, "Second", "two")
		var got []string
		for len(got) == 0 || got[len(got)-1] != "Second" {
			select {
			case reason := <-reasons:
				got = append(got, reason)
			case <-time.After(30 * time.Second):
				t.Fatalf("%d: the second event never came; got %v", code, got)
			}
		}
		if len(got) != 2 {
			t.Errorf("%d: posted %v, want First once then Second", code, got)
		}
		cancel()
		srv.Close()
	}
}

// With the notification controller in the same process, events go to it
// directly and nothing is posted.
func TestRecorderDeliversLocally(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Event, 1)
	r := NewRecorder(nil, env.Scheme, RecorderOptions{Controller: "source-controller", Log: testr.New(t)})
	r.DeliverLocally(func(ev Event) error { got <- ev; return nil })
	go func() { _ = r.Start(ctx) }()
	obj := newGitRepository(t, env.Namespace(t))
	r.Eventf(obj, map[string]string{"revision": "main@sha1:abc"}, SeverityError, "GitOperationFailed", "clone failed")
	select {
	case ev := <-got:
		if ev.InvolvedObject.Name != obj.Name || ev.Reason != "GitOperationFailed" || ev.Metadata["source.toolkit.fluxcd.io/revision"] != "main@sha1:abc" {
			t.Errorf("got %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event delivered")
	}
}
