package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// sink is a webhook on loopback that keeps what generic Providers send it,
// by path: each Alert of a test gets a Provider of its own path.
type sink struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]runtime.Event
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{got: map[string][]runtime.Event{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev runtime.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("sink got a body that is not an event: %v", err)
		}
		s.mu.Lock()
		s.got[r.URL.Path] = append(s.got[r.URL.Path], ev)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) events(path string) []runtime.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]runtime.Event(nil), s.got[path]...)
}

// waitEvents polls until path received n events, and returns them.
func (s *sink) waitEvents(t *testing.T, path string, n int) []runtime.Event {
	t.Helper()
	eventually(t, "sink "+path+" receives enough events", func() bool { return len(s.events(path)) >= n })
	return s.events(path)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// genericProvider returns a generic Provider posting to url.
func genericProvider(ns, name, url string) *notificationv1beta3.Provider {
	return &notificationv1beta3.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       notificationv1beta3.ProviderSpec{Type: "generic", Address: url},
	}
}

func newAlert(ns, name, provider string, sources ...notificationv1beta3.CrossNamespaceObjectReference) *notificationv1beta3.Alert {
	return &notificationv1beta3.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: notificationv1beta3.AlertSpec{
			ProviderRef:  meta.LocalObjectReference{Name: provider},
			EventSources: sources,
		},
	}
}

func sourceRef(kind, name string) notificationv1beta3.CrossNamespaceObjectReference {
	return notificationv1beta3.CrossNamespaceObjectReference{Kind: kind, Name: name}
}

type conditioned interface {
	client.Object
	runtime.Getter
}

// waitReady waits until obj's Ready condition has status and reason, for
// its current generation, and returns its message.
func waitReady(t *testing.T, obj conditioned, status metav1.ConditionStatus, reason string) string {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	var msg string
	eventually(t, key.String()+" Ready="+string(status)+" "+reason, func() bool {
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			return false
		}
		c := runtime.Get(obj, meta.ReadyCondition)
		if c == nil || c.Status != status || c.Reason != reason {
			return false
		}
		msg = c.Message
		return observed(obj)
	})
	return msg
}

func observed(obj client.Object) bool {
	switch o := obj.(type) {
	case *notificationv1beta3.Alert:
		return o.Status.ObservedGeneration == o.Generation
	case *notificationv1beta3.Provider:
		return o.Status.ObservedGeneration == o.Generation
	}
	return true
}

// event returns an event about a Kustomization, as the kustomize
// controller posts it: metadata keys prefixed with the API group.
func event(ns, name, severity, reason, message, revision string) runtime.Event {
	ev := runtime.Event{
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: ns, Name: name,
		},
		Severity:            severity,
		Timestamp:           metav1.Now(),
		Message:             message,
		Reason:              reason,
		ReportingController: "kustomize-controller",
	}
	if revision != "" {
		ev.Metadata = map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": revision,
			"kustomize.toolkit.fluxcd.io/checksum": "abc",
			"other.example.com/revision":           "not ours",
		}
	}
	return ev
}

// post POSTs body to the event server and returns the status code.
func post(t *testing.T, body []byte) int {
	t.Helper()
	resp, err := http.Post(eventsURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func postEvent(t *testing.T, ev runtime.Event) int {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return post(t, b)
}
