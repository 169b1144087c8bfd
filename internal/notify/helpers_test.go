package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// commit is the commit of the test events' revision.
const commit = "0123456789abcdef0123456789abcdef01234567"

// failure is the event the tests deliver: a Kustomization that failed.
func failure() Event {
	return Event{
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization",
			Namespace: "apps", Name: "podinfo", UID: "2f9c0b3a-1111-2222-3333-444455556666",
		},
		Severity:            "error",
		Timestamp:           metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Message:             "health check failed after 30s",
		Reason:              "HealthCheckFailed",
		Metadata:            map[string]string{"revision": "main@sha1:" + commit, "summary": "prod cluster"},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "gotk-0",
	}
}

// success is the same object recovering.
func success() Event {
	ev := failure()
	ev.Severity = "info"
	ev.Reason = "ReconciliationSucceeded"
	ev.Message = "Applied revision: main@sha1:" + commit
	return ev
}

// received is one request a fake service got.
type received struct {
	Method string
	Path   string // escaped path, as sent
	Query  string
	Header http.Header
	Body   []byte
}

// service is a loopback HTTP server standing in for a provider's API: it
// records every request and answers with answer (200 and "{}" when nil).
type service struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(r *http.Request) (int, string)
}

func newService(t *testing.T, answer func(r *http.Request) (int, string)) *service {
	t.Helper()
	s := &service{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, received{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		code, out := http.StatusOK, "{}"
		if s.answer != nil {
			code, out = s.answer(r)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// testClient retries quickly.
func testClient() *Client {
	return NewClient(ClientOptions{Backoff: time.Millisecond, Timeout: 30 * time.Second})
}

// sameJSON fails the test when got and want do not decode to the same value.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the test's JSON is broken: %v", what, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s: body differs (-want +got):\n%s", what, diff)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
