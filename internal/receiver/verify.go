package receiver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // GitHub's legacy, Bitbucket's and Nexus's signatures are HMAC-SHA1, which is still a sound MAC
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
)

// delivery is what the checks of one request found out.
type delivery struct {
	// event is the sender's event type, such as "push"; empty when the
	// sender has none.
	event string
	// id is the sender's delivery id, such as X-GitHub-Delivery; empty
	// when it sends none.
	id string
	// ping is a connectivity check that reconciles nothing.
	ping bool
	// signed means the token authenticates the body itself (an HMAC), so
	// a second request with the same body is a replay.
	signed bool
	// payload is the JSON the sender meant, which `req` holds in CEL
	// filters: the body, or GitHub's form-encoded payload field.
	payload []byte
}

// Errors that decide the HTTP status of a refused request.
var (
	// errUnauthorized: the signature or token does not match (401).
	errUnauthorized = errors.New("unauthorized")
	// errBadRequest: the payload is not what the sender type sends (400).
	errBadRequest = errors.New("bad request")
	// errIgnored: an authentic event that spec.events does not list
	// (200, nothing reconciled).
	errIgnored = errors.New("event ignored")
	// errUnsupported: a type this build cannot verify (501).
	errUnsupported = errors.New("unsupported")
	// errMisconfigured: the Receiver's Secret lacks what its type needs
	// (503).
	errMisconfigured = errors.New("misconfigured")
)

// verify checks a request for a Receiver of type typ with its token and
// reads its event. The error wraps one of the errors above; its message
// never holds the token or the signature.
func verify(typ string, events []string, token string, h http.Header, body []byte) (delivery, error) {
	d := delivery{payload: body}
	switch typ {
	case notificationv1.GenericReceiver:
		return d, nil

	case notificationv1.GenericHMACReceiver:
		if err := checkAlgoSignature(h.Get("X-Signature"), token, body, "sha1", "sha256", "sha512"); err != nil {
			return d, fmt.Errorf("%w: X-Signature: %v", errUnauthorized, err)
		}
		d.signed = true
		return d, nil

	case notificationv1.GitHubReceiver:
		if sig := h.Get("X-Hub-Signature-256"); sig != "" {
			if err := checkAlgoSignature(sig, token, body, "sha256"); err != nil {
				return d, fmt.Errorf("%w: X-Hub-Signature-256: %v", errUnauthorized, err)
			}
		} else if err := checkAlgoSignature(h.Get("X-Hub-Signature"), token, body, "sha1"); err != nil {
			return d, fmt.Errorf("%w: X-Hub-Signature-256 missing, X-Hub-Signature: %v", errUnauthorized, err)
		}
		d.signed = true
		d.id = h.Get("X-GitHub-Delivery")
		d.event = h.Get("X-GitHub-Event")
		if d.event == "" {
			return d, fmt.Errorf("%w: no X-GitHub-Event header", errBadRequest)
		}
		payload, err := githubPayload(h.Get("Content-Type"), body)
		if err != nil {
			return d, err
		}
		d.payload = payload
		if d.event == "ping" {
			d.ping = true
			return d, nil
		}
		return d, allowed(events, d.event)

	case notificationv1.GitLabReceiver:
		if !equalToken(h.Get("X-Gitlab-Token"), token) {
			return d, fmt.Errorf("%w: X-Gitlab-Token does not match the token", errUnauthorized)
		}
		d.event = h.Get("X-Gitlab-Event")
		return d, allowed(events, d.event)

	case notificationv1.BitbucketReceiver:
		if err := checkAlgoSignature(h.Get("X-Hub-Signature"), token, body, "sha256", "sha1"); err != nil {
			return d, fmt.Errorf("%w: X-Hub-Signature: %v", errUnauthorized, err)
		}
		d.signed = true
		d.id = h.Get("X-Request-Id")
		d.event = h.Get("X-Event-Key")
		if d.event == "diagnostics:ping" {
			d.ping = true
			return d, nil
		}
		return d, allowed(events, d.event)

	case notificationv1.HarborReceiver:
		if !equalToken(h.Get("Authorization"), token) {
			return d, fmt.Errorf("%w: Authorization header does not match the token", errUnauthorized)
		}
		var p struct {
			Type string `json:"type"`
		}
		if err := decode(body, &p, "Harbor"); err != nil {
			return d, err
		}
		d.event = p.Type
		return d, allowed(events, d.event)

	case notificationv1.DockerHubReceiver:
		var p struct {
			PushData   *struct{ Tag string } `json:"push_data"`
			Repository *struct {
				RepoName string `json:"repo_name"`
			} `json:"repository"`
		}
		if err := decode(body, &p, "Docker Hub"); err != nil {
			return d, err
		}
		if p.PushData == nil || p.Repository == nil {
			return d, fmt.Errorf("%w: Docker Hub payload has no push_data or repository", errBadRequest)
		}
		return d, nil

	case notificationv1.QuayReceiver:
		var p struct {
			DockerURL   string   `json:"docker_url"`
			UpdatedTags []string `json:"updated_tags"`
		}
		if err := decode(body, &p, "Quay"); err != nil {
			return d, err
		}
		if p.DockerURL == "" {
			return d, fmt.Errorf("%w: Quay payload has no docker_url", errBadRequest)
		}
		return d, nil

	case notificationv1.NexusReceiver:
		sig := h.Get("X-Nexus-Webhook-Signature")
		if err := checkHexHMAC(sha1.New, sig, token, body); err != nil {
			return d, fmt.Errorf("%w: X-Nexus-Webhook-Signature: %v", errUnauthorized, err)
		}
		d.signed = true
		var p struct {
			Action string `json:"action"`
		}
		if err := decode(body, &p, "Nexus"); err != nil {
			return d, err
		}
		d.event = p.Action
		return d, allowed(events, d.event)

	case notificationv1.ACRReceiver:
		var p struct {
			Action string `json:"action"`
			Target *struct {
				Repository string `json:"repository"`
			} `json:"target"`
		}
		if err := decode(body, &p, "Azure Container Registry"); err != nil {
			return d, err
		}
		if p.Target == nil || p.Target.Repository == "" {
			return d, fmt.Errorf("%w: Azure Container Registry payload has no target.repository", errBadRequest)
		}
		d.event = p.Action
		if d.event == "ping" {
			d.ping = true
			return d, nil
		}
		return d, allowed(events, d.event)

	case notificationv1.CDEventsReceiver:
		var p struct {
			Context *struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"context"`
		}
		if err := decode(body, &p, "CDEvents"); err != nil {
			return d, err
		}
		if p.Context == nil || p.Context.Type == "" {
			return d, fmt.Errorf("%w: CDEvent has no context.type", errBadRequest)
		}
		d.event = h.Get("Ce-Type")
		if d.event == "" {
			d.event = p.Context.Type
		}
		return d, allowed(events, d.event)

	case notificationv1.GenericOIDCReceiver:
		return d, fmt.Errorf("%w: %s", errUnsupported, unsupportedMessage(typ))
	}
	return d, fmt.Errorf("%w: unknown receiver type %q", errUnsupported, typ)
}

// Unsupported returns why a Receiver of type typ cannot work in this
// build, or "" when it can.
func Unsupported(typ string) string {
	if typ == notificationv1.GenericOIDCReceiver {
		return unsupportedMessage(typ)
	}
	return ""
}

func unsupportedMessage(typ string) string {
	switch typ {
	case notificationv1.GenericOIDCReceiver:
		return "type generic-oidc is not supported: gotk does not verify OIDC tokens yet; use generic-hmac (see docs/receivers.md)"
	}
	return ""
}

// allowed reports errIgnored unless events is empty or lists event, in any
// case.
func allowed(events []string, event string) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if strings.EqualFold(e, event) {
			return nil
		}
	}
	return fmt.Errorf("%w: event %q is not in spec.events", errIgnored, event)
}

// decode reads a sender's JSON payload.
func decode(body []byte, v any, sender string) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s payload is not JSON: %v", errBadRequest, sender, err)
	}
	return nil
}

// githubPayload returns the JSON of a GitHub delivery: the body, or the
// payload field of a form-encoded one.
func githubPayload(contentType string, body []byte) ([]byte, error) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: GitHub form payload: %v", errBadRequest, err)
		}
		body = []byte(form.Get("payload"))
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%w: GitHub payload is not JSON", errBadRequest)
	}
	return body, nil
}

// equalToken compares a header with the token in constant time.
func equalToken(got, token string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

var hashes = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// checkAlgoSignature checks a "<algo>=<hex HMAC>" header, as GitHub,
// Bitbucket Server and generic-hmac senders write it, with one of algos.
func checkAlgoSignature(header, token string, body []byte, algos ...string) error {
	if header == "" {
		return errors.New("missing")
	}
	algo, sig, ok := strings.Cut(header, "=")
	if !ok {
		return errors.New("not in the form <algorithm>=<hex digest>")
	}
	algo = strings.ToLower(algo)
	for _, a := range algos {
		if a == algo {
			return checkHexHMAC(hashes[a], sig, token, body)
		}
	}
	return fmt.Errorf("algorithm %q is not one of %s", algo, strings.Join(algos, ", "))
}

// checkHexHMAC checks a hex HMAC of body keyed with token.
func checkHexHMAC(h func() hash.Hash, sig, token string, body []byte) error {
	if sig == "" {
		return errors.New("missing")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("not hex")
	}
	mac := hmac.New(h, []byte(token))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("signature does not match the body")
	}
	return nil
}
