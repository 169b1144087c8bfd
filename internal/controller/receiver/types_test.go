package receiver

import (
	"crypto/sha1" //nolint:gosec // Nexus signs with HMAC-SHA1
	"net/http"
	"net/url"
	"strings"
	"testing"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// githubPush is a push delivery as GitHub sends it (trimmed to the fields
// that matter here).
const githubPush = `{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",` +
	`"after":"1b2ad9f2c9d8c1ab9d3b1f3c8b4d5e6f7a8b9c0d","repository":{"id":1296269,"full_name":"octo-org/app",` +
	`"clone_url":"https://github.com/octo-org/app.git"},"pusher":{"name":"octocat"},"head_commit":{"id":"1b2ad9f2c9d8c1ab9d3b1f3c8b4d5e6f7a8b9c0d","message":"Update README"}}`

func githubHeaders(event, delivery, token string, body []byte) http.Header {
	return headers(
		"Content-Type", "application/json",
		"User-Agent", "GitHub-Hookshot/044aadd",
		"X-GitHub-Event", event,
		"X-GitHub-Delivery", delivery,
		"X-GitHub-Hook-ID", "292430182",
		"X-Hub-Signature", sha1Sig(token, body),
		"X-Hub-Signature-256", sha256Sig(token, body),
	)
}

func TestGitHubSignedPushRequestsReconcile(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GitHubReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"push"}
	})
	body := []byte(githubPush)
	wantStatus(t, url, githubHeaders("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", token, body), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestGitHubFormEncodedPushRequestsReconcile(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	hook, token := newReceiver(t, ns, notificationv1.GitHubReceiver, nil)
	body := []byte(url.Values{"payload": {githubPush}}.Encode())
	h := githubHeaders("push", "b1c2d3e4-cc78-11e3-81ab-4c9367dc0958", token, body)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, hook, h, body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestGitHubWrongSignatureIsUnauthorized(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GitHubReceiver, nil)
	body := []byte(githubPush)
	h := githubHeaders("push", "0f6b7e4a-cc78-11e3-81ab-4c9367dc0958", "not-"+token, body)
	msg := wantStatus(t, url, h, body, http.StatusUnauthorized)
	if strings.Contains(msg, token) || strings.Contains(msg, h.Get("X-Hub-Signature-256")) {
		t.Fatalf("the refusal %q gives away the token or the signature", msg)
	}
	// No signature at all is refused too.
	h.Del("X-Hub-Signature-256")
	h.Del("X-Hub-Signature")
	wantStatus(t, url, h, body, http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")
}

func TestGitHubPingIsAcceptedAndReconcilesNothing(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GitHubReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"push"}
	})
	body := []byte(`{"zen":"Design for failure.","hook_id":292430182,"hook":{"type":"Repository","events":["push"]}}`)
	if msg := wantStatus(t, url, githubHeaders("ping", "5a8c1a3e-cc78-11e3-81ab-4c9367dc0958", token, body), body, http.StatusOK); msg != "pong" {
		t.Fatalf("ping answered %q, want pong", msg)
	}
	wantNotRequested(t, ns, "target")
}

func TestGitHubEventNotInEventsReconcilesNothing(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GitHubReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"push"}
	})
	body := []byte(`{"action":"opened","issue":{"number":1}}`)
	msg := wantStatus(t, url, githubHeaders("issues", "9e1c2b7a-cc78-11e3-81ab-4c9367dc0958", token, body), body, http.StatusOK)
	if !strings.Contains(msg, "not in spec.events") {
		t.Fatalf("answer %q does not say the event was ignored", msg)
	}
	wantNotRequested(t, ns, "target")
}

func TestGitLabTokenAndEventFilter(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GitLabReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"Push Hook"}
	})
	body := []byte(`{"object_kind":"push","event_name":"push","ref":"refs/heads/main","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","project":{"path_with_namespace":"group/app"}}`)
	h := headers("Content-Type", "application/json", "User-Agent", "GitLab/17.5.0",
		"X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e",
		"X-Gitlab-Instance", "https://gitlab.example.com", "X-Gitlab-Token", "wrong")
	wantStatus(t, url, h, body, http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")

	h.Set("X-Gitlab-Event", "Tag Push Hook")
	h.Set("X-Gitlab-Token", token)
	wantStatus(t, url, h, body, http.StatusOK)
	wantNotRequested(t, ns, "target")

	h.Set("X-Gitlab-Event", "Push Hook")
	wantStatus(t, url, h, body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestBitbucketServerSignedPush(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.BitbucketReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"repo:refs_changed"}
	})
	ping := []byte(`{"test":true}`)
	wantStatus(t, url, headers("Content-Type", "application/json; charset=utf-8", "X-Event-Key", "diagnostics:ping",
		"X-Request-Id", "a1b2c3d4-0000-4000-8000-000000000001", "X-Hub-Signature", sha256Sig(token, ping)), ping, http.StatusOK)
	wantNotRequested(t, ns, "target")

	body := []byte(`{"eventKey":"repo:refs_changed","date":"2026-12-05T04:30:00+0000","repository":{"slug":"app","project":{"key":"OPS"}},` +
		`"changes":[{"ref":{"id":"refs/heads/main"},"fromHash":"aaaa","toHash":"bbbb","type":"UPDATE"}]}`)
	h := headers("Content-Type", "application/json; charset=utf-8", "X-Event-Key", "repo:refs_changed",
		"X-Request-Id", "a1b2c3d4-0000-4000-8000-000000000002", "X-Hub-Signature", sha256Sig("wrong", body))
	wantStatus(t, url, h, body, http.StatusUnauthorized)
	h.Set("X-Hub-Signature", sha256Sig(token, body))
	wantStatus(t, url, h, body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestHarborAuthorizationHeader(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.HarborReceiver, nil)
	body := []byte(`{"type":"PUSH_ARTIFACT","occur_at":1733372400,"operator":"admin","event_data":{"resources":[{"digest":"sha256:0a1b","tag":"v1.2.3",` +
		`"resource_url":"harbor.example.com/library/app:v1.2.3"}],"repository":{"name":"app","namespace":"library","repo_full_name":"library/app"}}}`)
	wantStatus(t, url, headers("Content-Type", "application/json", "Authorization", "Bearer wrong"), body, http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")
	wantStatus(t, url, headers("Content-Type", "application/json", "Authorization", token), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestDockerHubPush(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.DockerHubReceiver, nil)
	wantStatus(t, url, headers("Content-Type", "application/json"), []byte(`not json`), http.StatusBadRequest)
	wantNotRequested(t, ns, "target")
	body := []byte(`{"callback_url":"https://registry.hub.docker.com/u/org/app/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",` +
		`"push_data":{"pushed_at":1733372400,"pusher":"trustedbuilder","tag":"latest"},"repository":{"repo_name":"org/app","name":"app","namespace":"org",` +
		`"repo_url":"https://registry.hub.docker.com/u/org/app/","status":"Active"}}`)
	wantStatus(t, url, headers("Content-Type", "application/json"), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestQuayPush(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.QuayReceiver, nil)
	body := []byte(`{"repository":"org/app","namespace":"org","name":"app","docker_url":"quay.io/org/app",` +
		`"homepage":"https://quay.io/repository/org/app","updated_tags":["latest","v1.2.3"]}`)
	wantStatus(t, url, headers("Content-Type", "application/json"), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestNexusSignedComponentCreated(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.NexusReceiver, nil)
	body := []byte(`{"timestamp":"2026-12-05T04:30:00.000+0000","nodeId":"7FFA7361-6ED33978-36997BD4-47095CC4-331356BE",` +
		`"initiator":"admin/127.0.0.1","repositoryName":"docker-hosted","action":"CREATED",` +
		`"component":{"id":"08909bf0c86cf6c9600aade89e1c5e25","format":"docker","name":"app","version":"v1.2.3"}}`)
	h := headers("Content-Type", "application/json; charset=UTF-8", "User-Agent", "Nexus/3.70.1-02 (OSS; Linux; amd64)",
		"X-Nexus-Webhook-Id", "rm:repository:component", "X-Nexus-Webhook-Delivery", "7f69a8ad-3a58-4a6f-a1f6-55b3f5bc9d1e",
		"X-Nexus-Webhook-Signature", sign(sha1.New, "wrong", body))
	wantStatus(t, url, h, body, http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")
	h.Set("X-Nexus-Webhook-Signature", sign(sha1.New, token, body))
	wantStatus(t, url, h, body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestACRPush(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.ACRReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"push"}
	})
	body := []byte(`{"id":"cb8c3971-9adc-488b-xxxx-43cbb4974ff5","timestamp":"2026-12-05T04:30:00.5541135Z","action":"push",` +
		`"target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":524,"digest":"sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",` +
		`"length":524,"repository":"app","tag":"v1"},"request":{"id":"3cbb6949-7549-4fa1-xxxx-a6d5451dffc7","host":"myregistry.azurecr.io","method":"PUT","useragent":"docker/20.10"}}`)
	wantStatus(t, url, headers("Content-Type", "application/json"), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestCDEventsTypeFilter(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.CDEventsReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"dev.cdevents.artifact.published.0.1.1"}
	})
	event := func(typ string) []byte {
		return []byte(`{"context":{"version":"0.4.1","id":"271069a8-fc18-44f1-b38f-9d70a1695819","source":"/event/source/123","type":"` + typ +
			`","timestamp":"2026-12-05T04:30:00Z"},"subject":{"id":"pkg:oci/app@sha256%3A0b31","source":"/event/source/123","content":{}}}`)
	}
	h := func(typ string) http.Header {
		return headers("Content-Type", "application/json", "Ce-Specversion", "1.0", "Ce-Id", "271069a8-fc18-44f1-b38f-9d70a1695819",
			"Ce-Source", "/event/source/123", "Ce-Type", typ)
	}
	other := "dev.cdevents.pipelinerun.started.0.1.1"
	wantStatus(t, url, h(other), event(other), http.StatusOK)
	wantNotRequested(t, ns, "target")
	wantStatus(t, url, h("x"), []byte(`{"subject":{}}`), http.StatusBadRequest)
	published := "dev.cdevents.artifact.published.0.1.1"
	wantStatus(t, url, h(published), event(published), http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestGenericAcceptsAnyBody(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.GenericReceiver, nil)
	wantStatus(t, url, nil, nil, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestGenericHMACSignature(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, token := newReceiver(t, ns, notificationv1.GenericHMACReceiver, nil)
	body := []byte(`{"image":"ghcr.io/org/app:v1.0.0","commit":"1b2ad9f"}`)
	wantStatus(t, url, headers("Content-Type", "application/json"), body, http.StatusUnauthorized)
	wantStatus(t, url, headers("X-Signature", "md5=00"), body, http.StatusUnauthorized)
	wantStatus(t, url, headers("X-Signature", sha256Sig(token, []byte(`{"image":"other"}`))), body, http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")
	wantStatus(t, url, headers("Content-Type", "application/json", "X-Signature", sha256Sig(token, body)), body, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestUnknownPathIsNotFound(t *testing.T) {
	testenv.Require(t)
	wantStatus(t, hookBase+"/hook/"+strings.Repeat("ab", 32), nil, nil, http.StatusNotFound)
	wantStatus(t, hookBase+"/hook/nothex", nil, nil, http.StatusNotFound)
}
