package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A 5xx answer is retried until the service accepts; a 4xx is not.
func TestDeliveryRetriesServerErrorsOnly(t *testing.T) {
	var calls atomic.Int32
	svc := newService(t, func(*http.Request) (int, string) {
		if calls.Add(1) < 3 {
			return 503, "busy"
		}
		return 200, "ok"
	})
	n, err := New(Options{Type: "generic", Address: svc.URL, Client: testClient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Post(context.Background(), failure()); err != nil {
		t.Fatalf("Post = %v after two 503s", err)
	}
	if got := len(svc.requests()); got != 3 {
		t.Errorf("sent %d requests, want 3", got)
	}

	bad := newService(t, func(*http.Request) (int, string) { return 400, "bad payload" })
	n, err = New(Options{Type: "generic", Address: bad.URL + "/hook/secret-path", Client: testClient()})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Post(context.Background(), failure())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 400 {
		t.Fatalf("Post = %v, want a 400 StatusError", err)
	}
	if strings.Contains(err.Error(), "secret-path") {
		t.Errorf("error shows the webhook path: %v", err)
	}
	if got := len(bad.requests()); got != 1 {
		t.Errorf("sent %d requests for a 400, want 1", got)
	}

	gone := NewClient(ClientOptions{Attempts: 2, Backoff: 1})
	svc.Close()
	n, _ = New(Options{Type: "generic", Address: svc.URL, Client: gone})
	if err := n.Post(context.Background(), failure()); err == nil {
		t.Error("Post to a closed server succeeded")
	}
}

// Link-local addresses, where clouds serve instance metadata, are refused
// before any connection; loopback and cluster addresses are not.
func TestLinkLocalAddressesAreRefused(t *testing.T) {
	for _, addr := range []string{"http://169.254.169.254/latest/meta-data", "http://[fe80::1]:8080/", "http://[::ffff:169.254.1.1]/"} {
		n, err := New(Options{Type: "generic", Address: addr, Client: testClient()})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Post(context.Background(), failure()); !errors.Is(err, ErrLinkLocal) {
			t.Errorf("%s: Post = %v, want ErrLinkLocal", addr, err)
		}
	}
	for addr, want := range map[string]bool{
		"169.254.0.1": true, "169.254.255.255": true, "fe80::1": true, "febf::1": true, "::ffff:169.254.169.254": true,
		"127.0.0.1": false, "10.96.0.10": false, "::1": false, "fd00:ec2::254": false, "169.255.0.1": false,
	} {
		if got := IsLinkLocal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsLinkLocal(%s) = %v, want %v", addr, got, want)
		}
	}
	svc := newService(t, nil)
	n, _ := New(Options{Type: "generic", Address: svc.URL, Client: testClient()})
	if err := n.Post(context.Background(), failure()); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
}

// Sentry gets an envelope with the event, authenticated by the DSN's key.
func TestSentryGetsAnEnvelope(t *testing.T) {
	svc := newService(t, nil)
	dsn := strings.Replace(svc.URL, "http://", "http://pubkey@", 1) + "/42"
	n, err := New(Options{Type: "sentry", Address: dsn, Channel: "production", Client: testClient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Post(context.Background(), failure()); err != nil {
		t.Fatal(err)
	}
	got := svc.requests()
	if len(got) != 1 || got[0].Method != "POST" || got[0].Path != "/api/42/envelope/" {
		t.Fatalf("got %+v", got)
	}
	r := got[0]
	if ct := r.Header.Get("Content-Type"); ct != "application/x-sentry-envelope" {
		t.Errorf("Content-Type %q", ct)
	}
	if auth := r.Header.Get("X-Sentry-Auth"); !strings.Contains(auth, "sentry_key=pubkey") || !strings.Contains(auth, "sentry_version=7") {
		t.Errorf("X-Sentry-Auth %q", auth)
	}
	lines := bytes.Split(bytes.TrimSpace(r.Body), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("envelope has %d lines:\n%s", len(lines), r.Body)
	}
	var header, item map[string]any
	var ev sentryEvent
	for i, v := range []any{&header, &item, &ev} {
		if err := json.Unmarshal(lines[i], v); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	if header["event_id"] != ev.EventID || len(ev.EventID) != 32 || header["dsn"] != dsn {
		t.Errorf("envelope header %v for event %s", header, ev.EventID)
	}
	if item["type"] != "event" || int(item["length"].(float64)) != len(lines[2]) {
		t.Errorf("item header %v, item is %d bytes", item, len(lines[2]))
	}
	want := sentryPayload(failure(), "production", ev.EventID)
	if ev.Level != "error" || ev.Message != want.Message || ev.Environment != "production" || ev.Transaction != "Kustomization: apps/podinfo" ||
		ev.Extra["revision"] != "main@sha1:"+commit || ev.Tags["flux_reason"] != "HealthCheckFailed" || ev.ServerName != "kustomize-controller" {
		t.Errorf("event %+v", ev)
	}
}

// A Provider that cannot work is refused with the field to fix.
func TestNewNamesWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Type: "smtp"}, `provider type "smtp" is not supported`},
		{Options{Type: "slack"}, "spec.address"},
		{Options{Type: "slack", Address: "ftp://x"}, "not an http(s) URL"},
		{Options{Type: "telegram", Token: "t"}, "spec.channel"},
		{Options{Type: "generic-hmac", Address: "http://x"}, `"token"`},
		{Options{Type: "github", Address: "https://github.com/org"}, "<owner>/<repository>"},
		{Options{Type: "github", Address: "https://github.com/org/app"}, `"token"`},
		{Options{Type: "bitbucket", Address: "https://bitbucket.org/t/a", Token: "nocolon"}, "<username>:<app password>"},
		{Options{Type: "bitbucketserver", Address: "https://host/projects/P/repos/a", Token: "t"}, "/scm/"},
		{Options{Type: "azuredevops", Address: "https://dev.azure.com/o/p/a", Token: "t"}, "_git"},
		{Options{Type: "zulip", Address: "https://z.example.org", Channel: "ops", User: "b", Password: "k"}, "<stream>/<topic>"},
		{Options{Type: "sentry", Address: "https://o0.ingest.sentry.io/1"}, "DSN"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tc.o, err, tc.want)
		}
	}
}

// Deliveries with the same connection settings share a transport, so they
// reuse kept-alive connections instead of opening one each; different
// settings never share one.
func TestClientsShareTransportsBySettings(t *testing.T) {
	tr := func(o ClientOptions) http.RoundTripper { return NewClient(o).http.Transport }
	base := ClientOptions{Timeout: time.Second}
	if tr(base) != tr(ClientOptions{Timeout: time.Minute, Attempts: 2}) {
		t.Error("clients that differ only in timeout and retries do not share a transport")
	}
	if tr(base) == tr(ClientOptions{AllowLinkLocal: true}) {
		t.Error("the link-local refusal is shared with a client that allows it")
	}
	withTLS := ClientOptions{TLS: &tls.Config{ServerName: "a"}}
	if tr(withTLS) == tr(withTLS) {
		t.Error("TLS settings without a key are shared")
	}
	withTLS.TLSKey = "digest-a"
	if tr(withTLS) != tr(withTLS) || tr(withTLS) == tr(ClientOptions{TLS: withTLS.TLS, TLSKey: "digest-b"}) {
		t.Error("TLS settings are not shared by key")
	}
}
