package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // senders sign with HMAC-SHA1
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// newToken returns a random receiver token.
func newToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newBucket creates a Bucket, a kind no reconciler in the test manager
// handles, so that only the webhook sets its annotations.
func newBucket(t *testing.T, ns, name string, labels map[string]string) {
	t.Helper()
	create(t, &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: sourcev1.BucketSpec{
			BucketName: "artifacts", Endpoint: "minio.example.com",
			Interval: metav1.Duration{Duration: time.Hour},
		},
	})
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// bucketResource names the Bucket name.
func bucketResource(name string) notificationv1.ReceiverResource {
	return notificationv1.ReceiverResource{Kind: sourcev1.BucketKind, Name: name}
}

// newReceiver creates a token Secret and a Receiver of typ that
// reconciles the Bucket "target", lets mutate change it, waits for it to
// be Ready and returns its webhook URL and token.
func newReceiver(t *testing.T, ns, typ string, mutate func(*notificationv1.Receiver)) (url, token string) {
	t.Helper()
	token = newToken(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte(token)})
	obj := &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type:      typ,
			SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	create(t, obj)
	got := waitReceiver(t, client.ObjectKeyFromObject(obj), "ready", func(r *notificationv1.Receiver) bool {
		return runtime.IsReady(r) && r.Status.ObservedGeneration == r.Generation
	})
	return hookBase + got.Status.WebhookPath, token
}

func waitReceiver(t *testing.T, key client.ObjectKey, what string, cond func(*notificationv1.Receiver) bool) *notificationv1.Receiver {
	t.Helper()
	obj := &notificationv1.Receiver{}
	eventually(t, key.String()+" "+what, func() bool {
		return env.Client.Get(context.Background(), key, obj) == nil && cond(obj)
	})
	return obj
}

// eventually polls cond every 50ms for up to 90 seconds and fails the
// test with what when it never holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends a webhook as a sender would and returns the status code and
// the response body.
func post(t *testing.T, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// wantStatus posts and fails unless the server answers code.
func wantStatus(t *testing.T, url string, header http.Header, body []byte, code int) string {
	t.Helper()
	got, msg := post(t, url, header, body)
	if got != code {
		t.Fatalf("POST answered %d %q, want %d", got, msg, code)
	}
	return msg
}

// requestedAt returns the reconcile request annotation of a Bucket.
func requestedAt(t *testing.T, ns, name string) string {
	t.Helper()
	b := &sourcev1.Bucket{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, b); err != nil {
		t.Fatal(err)
	}
	return b.Annotations[meta.ReconcileRequestAnnotation]
}

// wantRequested fails unless the Bucket carries a reconcile request. The
// server annotates before it answers, so no waiting is needed.
func wantRequested(t *testing.T, ns, name string) {
	t.Helper()
	if requestedAt(t, ns, name) == "" {
		t.Fatalf("Bucket %s/%s has no %s annotation", ns, name, meta.ReconcileRequestAnnotation)
	}
}

func wantNotRequested(t *testing.T, ns, name string) {
	t.Helper()
	if v := requestedAt(t, ns, name); v != "" {
		t.Fatalf("Bucket %s/%s was asked to reconcile (%s=%s), want not", ns, name, meta.ReconcileRequestAnnotation, v)
	}
}

// sign returns the hex HMAC of body with key.
func sign(h func() hash.Hash, key string, body []byte) string {
	m := hmac.New(h, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func sha256Sig(key string, body []byte) string { return "sha256=" + sign(sha256.New, key, body) }
func sha1Sig(key string, body []byte) string   { return "sha1=" + sign(sha1.New, key, body) }

// headers builds an http.Header from pairs.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
