package notification

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv"
)

// The event server accepts an event once per rate-limit interval, refuses
// what is malformed or too large with the matching status, and keeps
// serving after each.
func TestEventServerAnswers(t *testing.T) {
	testenv.Require(t)
	ns := env.Namespace(t)
	ok := event(ns, "app", "error", "BuildFailed", "kustomization.yaml: missing.yaml not found", "main@sha1:1111111111111111111111111111111111111111")

	if got := postEvent(t, ok); got != http.StatusAccepted {
		t.Errorf("first event: %d, want 202", got)
	}
	if got := postEvent(t, ok); got != http.StatusTooManyRequests {
		t.Errorf("same event again: %d, want 429", got)
	}
	rev := ok
	rev.Metadata = map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:2222222222222222222222222222222222222222"}
	if got := postEvent(t, rev); got != http.StatusAccepted {
		t.Errorf("same message for another revision: %d, want 202", got)
	}
	msg := ok
	msg.Message = "kustomization.yaml: other.yaml not found"
	if got := postEvent(t, msg); got != http.StatusAccepted {
		t.Errorf("another message: %d, want 202", got)
	}
	other := ok
	other.InvolvedObject.Name = "app2"
	if got := postEvent(t, other); got != http.StatusAccepted {
		t.Errorf("another object: %d, want 202", got)
	}

	for name, body := range map[string]string{
		"not JSON":         `{"involvedObject": `,
		"array":            `[1, 2]`,
		"no object":        `{"severity": "info", "message": "m", "reason": "R"}`,
		"no message":       `{"involvedObject": {"kind": "Kustomization", "name": "a", "namespace": "b"}, "severity": "info", "reason": "R"}`,
		"unknown severity": `{"involvedObject": {"kind": "Kustomization", "name": "a", "namespace": "b"}, "severity": "fatal", "message": "m", "reason": "R"}`,
	} {
		if got := post(t, []byte(body)); got != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	big := event(ns, "big", "info", "R", strings.Repeat("x", DefaultMaxEventSize), "")
	if got := postEvent(t, big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized event: %d, want 413", got)
	}
	resp, err := http.Get(eventsURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	resp, err = http.Post(strings.TrimSuffix(eventsURL, "/")+"/other", "application/json", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /other: %d, want 404", resp.StatusCode)
	}
	last := ok
	last.InvolvedObject.Name = "after-errors"
	if got := postEvent(t, last); got != http.StatusAccepted {
		t.Errorf("event after the refusals: %d, want 202", got)
	}
}

// Only the metadata the reporting controller prefixed with the object's
// API group reaches the Providers, without the prefix, and without the
// checksum.
func TestCleanMetadataKeepsTheObjectsGroup(t *testing.T) {
	ev := cleanMetadata(event("ns", "app", "info", "R", "m", "main@sha1:abc"))
	if len(ev.Metadata) != 1 || ev.Metadata["revision"] != "main@sha1:abc" {
		t.Errorf("metadata %v, want only revision", ev.Metadata)
	}
}
