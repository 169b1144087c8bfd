package receiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
)

func hmacHex(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestCheckAlgoSignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	good := "sha256=" + hmacHex("k", body)
	for _, tc := range []struct {
		name, header string
		algos        []string
		ok           bool
	}{
		{"matching sha256", good, []string{"sha256"}, true},
		{"upper-case algorithm", "SHA256=" + hmacHex("k", body), []string{"sha256"}, true},
		{"other key", "sha256=" + hmacHex("j", body), []string{"sha256"}, false},
		{"algorithm not allowed", good, []string{"sha1"}, false},
		{"missing", "", []string{"sha256"}, false},
		{"no algorithm", hmacHex("k", body), []string{"sha256"}, false},
		{"not hex", "sha256=zz", []string{"sha256"}, false},
		{"truncated", good[:len(good)-2], []string{"sha256"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAlgoSignature(tc.header, "k", body, tc.algos...)
			if (err == nil) != tc.ok {
				t.Fatalf("checkAlgoSignature(%q) = %v, want ok=%v", tc.header, err, tc.ok)
			}
		})
	}
}

func TestVerifyErrorsNeverHoldTheTokenOrSignature(t *testing.T) {
	const token = "very-secret-token"
	body := []byte(`{"ref":"refs/heads/main"}`)
	sig := "sha256=" + hmacHex("wrong", body)
	for _, typ := range []string{
		notificationv1.GenericHMACReceiver, notificationv1.GitHubReceiver, notificationv1.GitLabReceiver,
		notificationv1.BitbucketReceiver, notificationv1.HarborReceiver, notificationv1.NexusReceiver,
	} {
		h := http.Header{}
		for _, k := range []string{"X-Signature", "X-Hub-Signature-256", "X-Hub-Signature", "X-Gitlab-Token", "Authorization", "X-Nexus-Webhook-Signature"} {
			h.Set(k, sig)
		}
		h.Set("X-GitHub-Event", "push")
		_, err := verify(typ, nil, token, h, body)
		if !errors.Is(err, errUnauthorized) {
			t.Fatalf("%s: verify = %v, want unauthorized", typ, err)
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), sig[7:]) {
			t.Fatalf("%s: error %q gives away the token or the signature", typ, err)
		}
	}
}

func TestValidPath(t *testing.T) {
	good := notificationv1.WebhookPath("t", "n", "ns")
	if !validPath(good) {
		t.Fatalf("%s is refused", good)
	}
	for _, p := range []string{"/hook/", "/hook/" + strings.Repeat("A", 64), good + "/x", "/hooks/" + good[6:], good[:len(good)-1]} {
		if validPath(p) {
			t.Fatalf("%q is accepted", p)
		}
	}
}

func TestReplayCacheRefusesWithinTheWindowOnly(t *testing.T) {
	c := newReplayCache(time.Minute)
	t0 := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	a, b := replayKey("uid", "body", []byte("a")), replayKey("uid", "id", []byte("1"))
	if !c.reserve(t0, a, b) {
		t.Fatal("first delivery refused")
	}
	if c.reserve(t0.Add(30*time.Second), replayKey("uid", "body", []byte("other")), b) {
		t.Fatal("a known delivery id was accepted again within the window")
	}
	if c.reserve(t0.Add(30*time.Second), a) {
		t.Fatal("a known body was accepted again within the window")
	}
	if replayKey("uid", "body", []byte("a")) == replayKey("other-uid", "body", []byte("a")) {
		t.Fatal("two Receivers share replay keys")
	}
	if !c.reserve(t0.Add(time.Minute), a) {
		t.Fatal("a body was refused after the window")
	}
	c.release(a)
	if !c.reserve(t0.Add(61*time.Second), a) {
		t.Fatal("a released key was refused")
	}
}

func TestReplayCacheIsBounded(t *testing.T) {
	c := newReplayCache(time.Hour)
	c.max = 3
	t0 := time.Now()
	for i := range 10 {
		c.reserve(t0, replayKey("uid", "body", []byte{byte(i)}))
	}
	if len(c.seen) > 3 {
		t.Fatalf("cache holds %d keys, bound is 3", len(c.seen))
	}
	if !c.reserve(t0, replayKey("uid", "body", []byte{0})) {
		t.Fatal("the oldest key was not evicted")
	}
}

// FuzzVerify feeds arbitrary payloads and headers to every sender type:
// verify must never panic, and a signed type must accept only a signature
// that is the HMAC of the body with the token.
func FuzzVerify(f *testing.F) {
	f.Add("github", "push", "sha256=00", []byte(`{"ref":"x"}`))
	f.Add("generic-hmac", "", "sha1=00", []byte(`{}`))
	f.Add("nexus", "CREATED", "00", []byte(`{"action":"CREATED"}`))
	f.Add("dockerhub", "", "", []byte(`{"push_data":{},"repository":{}}`))
	f.Add("cdevents", "dev.cdevents.x", "", []byte(`{"context":{"type":"x"}}`))
	f.Add("acr", "", "", []byte(`{"action":"push","target":{"repository":"a"}}`))
	f.Fuzz(func(t *testing.T, typ, event, sig string, body []byte) {
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-Event-Key", event)
		for _, k := range []string{"X-Hub-Signature-256", "X-Hub-Signature", "X-Signature", "X-Nexus-Webhook-Signature"} {
			h.Set(k, sig)
		}
		d, err := verify(typ, []string{event}, "token", h, body)
		if err != nil || !d.signed {
			return
		}
		_, digest, found := strings.Cut(sig, "=")
		if !found {
			digest = sig
		}
		got, _ := hex.DecodeString(digest)
		for _, algo := range []string{"sha1", "sha256", "sha512"} {
			m := hmac.New(hashes[algo], []byte("token"))
			m.Write(body)
			if hmac.Equal(got, m.Sum(nil)) {
				return
			}
		}
		t.Fatalf("%s accepted signature %q that is no HMAC of the body", typ, sig)
	})
}
