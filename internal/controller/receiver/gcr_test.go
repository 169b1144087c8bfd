package receiver

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// googleKey stands in for Google's token signing key: the test server
// fetches its public half from a JWK set served on loopback, as it fetches
// Google's from googleapis.com.
var googleKey *rsa.PrivateKey

const googleKid = "test-kid-1"

func startGoogleCerts() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	googleKey = k
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kid": googleKid, "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/oauth2/v3/certs", nil
}

// googleToken signs an ID token as Google signs those of a Pub/Sub push
// subscription.
func googleToken(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "kid": googleKid, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestGCRPubSubPushWithGoogleToken(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	const (
		email    = "pubsub-push@my-project.iam.gserviceaccount.com"
		audience = "https://gotk-webhook.example.com"
	)
	token := newToken(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte(token), "email": []byte(email), "audience": []byte(audience)})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GCRReceiver, Events: []string{"INSERT"},
			SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	got := waitReceiver(t, client.ObjectKey{Namespace: ns, Name: "hook"}, "ready", func(r *notificationv1.Receiver) bool { return runtime.IsReady(r) })
	url := hookBase + got.Status.WebhookPath

	push := func(action string) []byte {
		data, _ := json.Marshal(map[string]string{"action": action, "digest": "us-east1-docker.pkg.dev/my-project/repo/app@sha256:6ec128e26cd5", "tag": "us-east1-docker.pkg.dev/my-project/repo/app:v1"})
		b, _ := json.Marshal(map[string]any{
			"message":      map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": "2070443601311540", "publishTime": "2026-12-05T04:30:00.000Z"},
			"subscription": "projects/my-project/subscriptions/gotk-receiver",
		})
		return b
	}
	now := time.Now()
	claims := func(mutate func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": "https://accounts.google.com", "aud": audience, "azp": "1082348975", "sub": "1082348975",
			"email": email, "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	bearer := func(tok string) http.Header {
		return headers("Content-Type", "application/json", "User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
			"Authorization", "Bearer "+tok)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"signed by another key": googleToken(t, other, claims(nil)),
		"another account":       googleToken(t, googleKey, claims(func(c map[string]any) { c["email"] = "attacker@evil.iam.gserviceaccount.com" })),
		"unverified email":      googleToken(t, googleKey, claims(func(c map[string]any) { c["email_verified"] = false })),
		"another audience":      googleToken(t, googleKey, claims(func(c map[string]any) { c["aud"] = "https://elsewhere.example.com" })),
		"expired":               googleToken(t, googleKey, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"not Google's issuer":   googleToken(t, googleKey, claims(func(c map[string]any) { c["iss"] = "https://issuer.example.com" })),
	} {
		if code, msg := post(t, url, bearer(tok), push("INSERT")); code != http.StatusUnauthorized {
			t.Fatalf("%s: answered %d %q, want 401", name, code, msg)
		}
	}
	wantStatus(t, url, headers("Content-Type", "application/json"), push("INSERT"), http.StatusUnauthorized)
	wantNotRequested(t, ns, "target")

	good := googleToken(t, googleKey, claims(nil))
	wantStatus(t, url, bearer(good), push("DELETE"), http.StatusOK)
	wantNotRequested(t, ns, "target")
	wantStatus(t, url, bearer(good), push("INSERT"), http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestGCRSecretWithoutEmailIsTokenNotFound(t *testing.T) {
	ns := env.Namespace(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte("t")})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GCRReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	got := waitReceiver(t, receiverKey(ns), "TokenNotFound", func(r *notificationv1.Receiver) bool {
		return runtime.Reason(r, meta.ReadyCondition) == notificationv1.TokenNotFoundReason
	})
	if msg := runtime.Message(got, meta.ReadyCondition); msg != "secret '"+ns+"/webhook-token' has no 'email' key" {
		t.Fatalf("Ready message %q", msg)
	}
}
