package notification

import (
	"encoding/json"
	"testing"
)

// Whatever a client posts, decoding it never panics, and what is accepted
// has the fields the Alerts match on.
func FuzzDecodeEvent(f *testing.F) {
	good, _ := json.Marshal(event("ns", "app", "info", "R", "applied", "main@sha1:abc"))
	for _, seed := range [][]byte{good, []byte(`{}`), []byte(`[]`), []byte(`{"involvedObject": null}`),
		[]byte(`{"involvedObject": {"kind": "K", "name": "n", "namespace": "ns"}, "severity": "trace", "message": "m", "reason": "R", "metadata": {"a/b": "c"}}`),
		[]byte(`{"timestamp": "not a time"}`), []byte("\x00\xff")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodeEvent(body)
		if err != nil {
			return
		}
		o := ev.InvolvedObject
		if o.Kind == "" || o.Name == "" || o.Namespace == "" || ev.Message == "" || ev.Reason == "" {
			t.Fatalf("accepted an event without its object, message or reason: %s", body)
		}
		clean := cleanMetadata(ev)
		_ = eventKey(clean)
	})
}
