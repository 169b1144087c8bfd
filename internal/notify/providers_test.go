package notify

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// want is one request the real service expects.
type want struct {
	method string
	path   string
	query  string
	header map[string]string
	// json is the exact body, compared as decoded JSON; form the exact
	// url-encoded body. Empty both means no body.
	json string
	form url.Values
}

type providerCase struct {
	name   string
	opts   func(base string) Options
	event  Event
	answer func(r *http.Request) (int, string)
	want   []want
}

func checkRequests(t *testing.T, got []received, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, g := range got {
			t.Logf("got %s %s?%s %s", g.Method, g.Path, g.Query, g.Body)
		}
		t.Fatalf("got %d requests, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		what := w.method + " " + w.path
		if g.Method != w.method || g.Path != w.path {
			t.Errorf("request %d: got %s %s, want %s", i, g.Method, g.Path, what)
		}
		if g.Query != w.query {
			t.Errorf("%s: query %q, want %q", what, g.Query, w.query)
		}
		for k, v := range w.header {
			if got := g.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", what, k, got, v)
			}
		}
		switch {
		case w.json != "":
			sameJSON(t, what, g.Body, w.json)
		case w.form != nil:
			form, err := url.ParseQuery(string(g.Body))
			if err != nil {
				t.Fatalf("%s: body is not a form: %v", what, err)
			}
			if diff := cmp.Diff(w.form, form); diff != "" {
				t.Errorf("%s: form differs (-want +got):\n%s", what, diff)
			}
		case len(g.Body) > 0:
			t.Errorf("%s: unexpected body %s", what, g.Body)
		}
	}
}

func runProviderCases(t *testing.T, cases []providerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, tc.answer)
			o := tc.opts(svc.URL)
			o.Client = testClient()
			n, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Post(context.Background(), tc.event); err != nil {
				t.Fatal(err)
			}
			wants := append([]want(nil), tc.want...)
			for i := range wants {
				wants[i].json = strings.ReplaceAll(wants[i].json, "%BASE%", svc.URL)
			}
			checkRequests(t, svc.requests(), wants)
		})
	}
}

const jsonType = "application/json"

// Each chat and incident provider sends the request its service documents,
// built from a failing Kustomization's event.
func TestChatProvidersSendWhatTheServiceAccepts(t *testing.T) {
	runProviderCases(t, []providerCase{
		{
			name: "slack webhook",
			opts: func(b string) Options {
				return Options{Type: "slack", Address: b + "/services/T0/B0/x", Channel: "ops"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/services/T0/B0/x", header: map[string]string{"Content-Type": jsonType, "Authorization": ""}, json: `{
				"channel": "ops", "username": "kustomize-controller", "icon_url": "https://avatars.githubusercontent.com/u/52158677",
				"attachments": [{"color": "danger", "author_name": "kustomization/podinfo.apps", "text": "health check failed after 30s",
					"mrkdwn_in": ["text"], "fields": [
						{"title": "summary", "value": "prod cluster", "short": false},
						{"title": "revision", "value": "main@sha1:` + commit + `", "short": false}]}]}`}},
		},
		{
			name: "slack bot token",
			opts: func(b string) Options {
				return Options{Type: "slack", Address: b + "/api/chat.postMessage", Channel: "C01", Username: "gotk", Token: "xoxb-1"}
			},
			answer: func(*http.Request) (int, string) { return 200, `{"ok": true}` },
			event:  success(),
			want: []want{{method: "POST", path: "/api/chat.postMessage", header: map[string]string{"Authorization": "Bearer xoxb-1"}, json: `{
				"channel": "C01", "username": "gotk", "icon_url": "https://avatars.githubusercontent.com/u/52158677",
				"attachments": [{"color": "good", "author_name": "kustomization/podinfo.apps", "text": "Applied revision: main@sha1:` + commit + `",
					"mrkdwn_in": ["text"], "fields": [
						{"title": "summary", "value": "prod cluster", "short": false},
						{"title": "revision", "value": "main@sha1:` + commit + `", "short": false}]}]}`}},
		},
		{
			name:  "discord goes to the slack-compatible endpoint",
			opts:  func(b string) Options { return Options{Type: "discord", Address: b + "/api/webhooks/1/tok"} },
			event: failure(),
			want: []want{{method: "POST", path: "/api/webhooks/1/tok/slack", json: `{
				"username": "kustomize-controller", "icon_url": "https://avatars.githubusercontent.com/u/52158677",
				"attachments": [{"color": "danger", "author_name": "kustomization/podinfo.apps", "text": "health check failed after 30s",
					"mrkdwn_in": ["text"], "fields": [
						{"title": "summary", "value": "prod cluster", "short": false},
						{"title": "revision", "value": "main@sha1:` + commit + `", "short": false}]}]}`}},
		},
		{
			name: "rocket",
			opts: func(b string) Options {
				return Options{Type: "rocket", Address: b + "/hooks/abc", Channel: "#ops", Username: "gotk"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/hooks/abc", json: `{
				"channel": "#ops", "username": "gotk", "icon_url": "https://avatars.githubusercontent.com/u/52158677",
				"attachments": [{"color": "danger", "author_name": "kustomization/podinfo.apps", "text": "health check failed after 30s",
					"mrkdwn_in": ["text"], "fields": [
						{"title": "summary", "value": "prod cluster", "short": false},
						{"title": "revision", "value": "main@sha1:` + commit + `", "short": false}]}]}`}},
		},
		{
			name:  "msteams adaptive card",
			opts:  func(b string) Options { return Options{Type: "msteams", Address: b + "/workflows/run?sig=s"} },
			event: failure(),
			want: []want{{method: "POST", path: "/workflows/run", query: "sig=s", header: map[string]string{"Content-Type": jsonType}, json: `{
				"type": "message",
				"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {
					"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
					"msteams": {"width": "Full"},
					"body": [{"type": "Container", "items": [
						{"type": "TextBlock", "text": "kustomization/podinfo.apps", "size": "large", "weight": "bolder", "wrap": true},
						{"type": "TextBlock", "text": "health check failed after 30s", "color": "attention", "wrap": true},
						{"type": "FactSet", "facts": [
							{"title": "summary", "value": "prod cluster"},
							{"title": "revision", "value": "main@sha1:` + commit + `"}]}]}]}}]}`}},
		},
		{
			name: "googlechat card",
			opts: func(b string) Options {
				return Options{Type: "googlechat", Address: b + "/v1/spaces/AAA/messages?key=k"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/v1/spaces/AAA/messages", query: "key=k", json: `{"cards": [{
				"header": {"title": "kustomization/podinfo.apps", "subtitle": "kustomize-controller"},
				"sections": [
					{"widgets": [{"textParagraph": {"text": "<font color=\"#ff0000\">health check failed after 30s</font>"}}]},
					{"widgets": [
						{"keyValue": {"topLabel": "summary", "content": "prod cluster"}},
						{"keyValue": {"topLabel": "revision", "content": "main@sha1:` + commit + `"}}]}]}]}`}},
		},
		{
			name: "matrix",
			opts: func(b string) Options {
				return Options{Type: "matrix", Address: b, Token: "syt", Channel: "!room:example.org"}
			},
			event: failure(),
			want: []want{{method: "PUT", path: "/_matrix/client/r0/rooms/%21room:example.org/send/m.room.message/" + matrixTxn(t, failure()),
				header: map[string]string{"Authorization": "Bearer syt"}, json: `{"msgtype": "m.text",
				"body": "🚨 kustomization/podinfo.apps\nhealth check failed after 30s\n- summary: prod cluster\n- revision: main@sha1:` + commit + `\n"}`}},
		},
		{
			name: "telegram",
			opts: func(b string) Options {
				return Options{Type: "telegram", Address: b, Token: "123:abc", Channel: "-100200:7"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/bot123:abc/sendMessage", json: `{"chat_id": "-100200", "message_thread_id": "7", "parse_mode": "MarkdownV2",
				"text": "*🚨 kustomization/podinfo\\.apps*\nhealth check failed after 30s\n\\- *summary*: prod cluster\n\\- *revision*: main@sha1:` + commit + `\n"}`}},
		},
		{
			name:  "lark",
			opts:  func(b string) Options { return Options{Type: "lark", Address: b + "/open-apis/bot/v2/hook/x"} },
			event: success(),
			want: []want{{method: "POST", path: "/open-apis/bot/v2/hook/x", json: `{"msg_type": "interactive", "card": {
				"config": {"wide_screen_mode": true},
				"header": {"title": {"tag": "plain_text", "content": "💫 kustomization/podinfo.apps"}, "template": "turquoise"},
				"elements": [{"tag": "div", "text": {"tag": "lark_md",
					"content": "**Applied revision: main@sha1:` + commit + `**\n\nsummary: prod cluster\nrevision: main@sha1:` + commit + `\n"}}]}}`}},
		},
		{
			name: "webex",
			opts: func(b string) Options {
				return Options{Type: "webex", Address: b + "/v1/messages", Token: "bot", Channel: "room-1"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/v1/messages", header: map[string]string{"Authorization": "Bearer bot"}, json: `{"roomId": "room-1",
				"markdown": "💣 **kustomization/podinfo.apps**\nhealth check failed after 30s\n>**summary**: prod cluster\n>**revision**: main@sha1:` + commit + `\n"}`}},
		},
		{
			name: "zulip",
			opts: func(b string) Options {
				return Options{Type: "zulip", Address: b, Channel: "ops/flux", User: "bot@example.org", Password: "key"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/api/v1/messages",
				header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic("bot@example.org", "key")},
				form: url.Values{"type": {"stream"}, "to": {"ops"}, "topic": {"flux"},
					"content": {"🚨 **kustomization/podinfo.apps**\n\nhealth check failed after 30s\n\n- **summary**: prod cluster\n- **revision**: main@sha1:" + commit + "\n"}}}},
		},
		{
			name: "alertmanager",
			opts: func(b string) Options {
				return Options{Type: "alertmanager", Address: b + "/api/v2/alerts", Token: "am"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/api/v2/alerts", header: map[string]string{"Authorization": "Bearer am"}, json: `[{
				"status": "firing", "startsAt": "2026-01-02T03:04:05Z",
				"annotations": {"message": "health check failed after 30s", "summary": "prod cluster"},
				"labels": {"alertname": "FluxKustomizationHealthcheckfailed", "severity": "error", "reason": "HealthCheckFailed",
					"kind": "Kustomization", "name": "podinfo", "namespace": "apps", "reportingcontroller": "kustomize-controller",
					"revision": "main@sha1:` + commit + `"}}]`}},
		},
		{
			name: "grafana",
			opts: func(b string) Options {
				return Options{Type: "grafana", Address: b + "/api/annotations/graphite", User: "admin", Password: "pw"}
			},
			event: failure(),
			want: []want{{method: "POST", path: "/api/annotations/graphite", header: map[string]string{"Authorization": basic("admin", "pw")}, json: `{
				"when": 1767323045, "text": "kustomization/podinfo.apps",
				"tags": ["flux", "kustomize-controller", "summary: prod cluster", "revision: main@sha1|` + commit + `",
					"kind: Kustomization", "name: podinfo", "namespace: apps"]}`}},
		},
		{
			name:  "pagerduty trigger",
			opts:  func(b string) Options { return Options{Type: "pagerduty", Address: b, Channel: "routing-key"} },
			event: failure(),
			want: []want{{method: "POST", path: "/v2/enqueue", json: `{"routing_key": "routing-key", "event_action": "trigger",
				"dedup_key": "2f9c0b3a-1111-2222-3333-444455556666",
				"payload": {"summary": "health check failed: kustomization/podinfo", "source": "Flux kustomize-controller", "severity": "error",
					"timestamp": "2026-01-02T03:04:05Z", "component": "podinfo", "group": "Kustomization",
					"custom_details": {"message": "health check failed after 30s",
						"metadata": {"summary": "prod cluster", "revision": "main@sha1:` + commit + `"}}}}`}},
		},
		{
			name:  "pagerduty resolve and change",
			opts:  func(b string) Options { return Options{Type: "pagerduty", Address: b, Channel: "routing-key"} },
			event: success(),
			want: []want{
				{method: "POST", path: "/v2/enqueue", json: `{"routing_key": "routing-key", "event_action": "resolve",
					"dedup_key": "2f9c0b3a-1111-2222-3333-444455556666"}`},
				{method: "POST", path: "/v2/change/enqueue", json: `{"routing_key": "routing-key", "payload": {
					"summary": "reconciliation succeeded: kustomization/podinfo", "source": "Flux kustomize-controller", "timestamp": "2026-01-02T03:04:05Z",
					"custom_details": {"message": "Applied revision: main@sha1:` + commit + `",
						"metadata": {"summary": "prod cluster", "revision": "main@sha1:` + commit + `"}}}}`},
			},
		},
		{
			name:  "opsgenie",
			opts:  func(b string) Options { return Options{Type: "opsgenie", Address: b + "/v2/alerts", Token: "genie"} },
			event: failure(),
			want: []want{{method: "POST", path: "/v2/alerts", header: map[string]string{"Authorization": "GenieKey genie"}, json: `{
				"message": "Kustomization/podinfo", "description": "health check failed after 30s",
				"details": {"severity": "error", "summary": "prod cluster", "revision": "main@sha1:` + commit + `"}}`}},
		},
		{
			name:  "datadog",
			opts:  func(b string) Options { return Options{Type: "datadog", Address: b, Token: "dd-key"} },
			event: failure(),
			want: []want{{method: "POST", path: "/api/v1/events", header: map[string]string{"DD-API-KEY": "dd-key"}, json: `{
				"title": "Events from the Kustomization podinfo/apps", "text": "health check failed after 30s",
				"tags": ["flux_reporting_controller:kustomize-controller", "flux_reason:healthcheckfailed", "kube_kind:kustomization",
					"kube_name:podinfo", "kube_namespace:apps", "summary:prod cluster", "revision:main@sha1:` + commit + `"],
				"source_type_name": "fluxcd", "date_happened": 1767323045, "alert_type": "error"}`}},
		},
		{
			name:  "githubdispatch",
			opts:  func(b string) Options { return Options{Type: "githubdispatch", Address: b + "/org/app", Token: "ghp"} },
			event: failure(),
			want: []want{{method: "POST", path: "/api/v3/repos/org/app/dispatches",
				header: map[string]string{"Authorization": "Bearer ghp", "Accept": "application/vnd.github+json"}, json: `{
				"event_type": "Kustomization/podinfo.apps",
				"client_payload": {"involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
					"namespace": "apps", "name": "podinfo", "uid": "2f9c0b3a-1111-2222-3333-444455556666"},
					"severity": "error", "timestamp": "2026-01-02T03:04:05Z", "message": "health check failed after 30s",
					"reason": "HealthCheckFailed", "metadata": {"summary": "prod cluster", "revision": "main@sha1:` + commit + `"},
					"reportingController": "kustomize-controller", "reportingInstance": "gotk-0"}}`}},
		},
	})
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func matrixTxn(t *testing.T, ev Event) string {
	t.Helper()
	raw := mustJSON(t, ev)
	return sha1Hex(string(raw))
}

// generic posts the event itself; generic-hmac signs the exact body with
// the token, so a receiver can verify it.
func TestGenericAndHMACSendTheEventSigned(t *testing.T) {
	for _, typ := range []string{"generic", "generic-hmac"} {
		t.Run(typ, func(t *testing.T) {
			svc := newService(t, nil)
			n, err := New(Options{Type: typ, Address: svc.URL + "/hook", Token: "s3cret", Headers: map[string]string{"X-Team": "ops"}, Client: testClient()})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Post(context.Background(), failure()); err != nil {
				t.Fatal(err)
			}
			got := svc.requests()
			if len(got) != 1 {
				t.Fatalf("got %d requests", len(got))
			}
			r := got[0]
			if r.Method != "POST" || r.Path != "/hook" || r.Header.Get("Content-Type") != jsonType ||
				r.Header.Get(ComponentHeader) != "kustomize-controller" || r.Header.Get("X-Team") != "ops" {
				t.Errorf("got %s %s with headers %v", r.Method, r.Path, r.Header)
			}
			sameJSON(t, typ, r.Body, string(mustJSON(t, failure())))
			sig := r.Header.Get(SignatureHeader)
			if typ == "generic" && sig != "" {
				t.Errorf("generic sent a signature %q", sig)
			}
			if typ == "generic-hmac" && sig != Sign(r.Body, []byte("s3cret")) {
				t.Errorf("signature %q does not match the body", sig)
			}
			if typ == "generic-hmac" && !strings.HasPrefix(sig, "sha256=") {
				t.Errorf("signature %q lacks the sha256= prefix", sig)
			}
		})
	}
}
