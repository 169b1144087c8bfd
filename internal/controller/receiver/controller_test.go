package receiver

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

func receiverKey(ns string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: "hook"} }

func TestWebhookPathIsFluxs(t *testing.T) {
	ns := env.Namespace(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte("s3cr3t")})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	got := waitReceiver(t, receiverKey(ns), "ready", func(r *notificationv1.Receiver) bool { return runtime.IsReady(r) })
	// The path Flux's notification-controller gives the same Receiver:
	// sha256 of token, name and namespace, concatenated.
	want := notificationv1.WebhookPath("s3cr3t", "hook", ns)
	if got.Status.WebhookPath != want {
		t.Fatalf("status.webhookPath = %q, want %q", got.Status.WebhookPath, want)
	}
	if msg := runtime.Message(got, meta.ReadyCondition); msg != "Receiver initialized for path: "+want {
		t.Fatalf("Ready message %q", msg)
	}
}

func TestMissingTokenSecretIsTokenNotFoundThenRecovers(t *testing.T) {
	ns := env.Namespace(t)
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GitHubReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	got := waitReceiver(t, receiverKey(ns), "TokenNotFound", func(r *notificationv1.Receiver) bool {
		return runtime.IsFalse(r, meta.ReadyCondition) && runtime.Reason(r, meta.ReadyCondition) == notificationv1.TokenNotFoundReason
	})
	if got.Status.WebhookPath != "" {
		t.Fatalf("a Receiver without token has webhookPath %q", got.Status.WebhookPath)
	}
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte("later")})
	waitReceiver(t, receiverKey(ns), "ready with the token's path", func(r *notificationv1.Receiver) bool {
		return runtime.IsReady(r) && r.Status.WebhookPath == notificationv1.WebhookPath("later", "hook", ns)
	})
}

func TestRotatedTokenMovesThePath(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	oldURL, _ := newReceiver(t, ns, notificationv1.GenericReceiver, nil)
	secret := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "webhook-token"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["token"] = []byte("rotated")
	if err := env.Client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	// The old path stops working as soon as the Secret changes, before
	// the Receiver is reconciled again: the server checks the path
	// against the token it reads.
	wantStatus(t, oldURL, nil, nil, http.StatusNotFound)
	wantNotRequested(t, ns, "target")
	// The Secret is not labelled for the config watchers, so the new path
	// shows after a reconcile request (or the interval).
	env.RequestReconcile(t, &notificationv1.Receiver{}, receiverKey(ns))
	got := waitReceiver(t, receiverKey(ns), "at the new path", func(r *notificationv1.Receiver) bool {
		return r.Status.WebhookPath == notificationv1.WebhookPath("rotated", "hook", ns)
	})
	wantStatus(t, hookBase+got.Status.WebhookPath, nil, nil, http.StatusOK)
	wantRequested(t, ns, "target")
}

func TestInvalidResourceFilterStalls(t *testing.T) {
	ns := env.Namespace(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte("t")})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources:      []notificationv1.ReceiverResource{bucketResource("target")},
			ResourceFilter: `res.metadata.name ==`,
		},
	})
	got := waitReceiver(t, receiverKey(ns), "stalled", func(r *notificationv1.Receiver) bool { return runtime.IsStalled(r) })
	if r := runtime.Reason(got, meta.ReadyCondition); r != notificationv1.ValidationFailedReason {
		t.Fatalf("Ready reason %q, want %s", r, notificationv1.ValidationFailedReason)
	}
}

func TestWildcardWithoutMatchLabelsStalls(t *testing.T) {
	ns := env.Namespace(t)
	env.CreateSecret(t, ns, "webhook-token", map[string][]byte{"token": []byte("t")})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{{Kind: sourcev1.BucketKind, Name: "*"}},
		},
	})
	waitReceiver(t, receiverKey(ns), "stalled", func(r *notificationv1.Receiver) bool { return runtime.IsStalled(r) })
}

func TestGenericOIDCReceiverStallsWithReason(t *testing.T) {
	ns := env.Namespace(t)
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type:          notificationv1.GenericOIDCReceiver,
			OIDCProviders: []notificationv1.OIDCProvider{{IssuerURL: "https://token.actions.githubusercontent.com", Validations: []notificationv1.OIDCValidation{{Expression: "true", Message: "m"}}}},
			Resources:     []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	got := waitReceiver(t, receiverKey(ns), "stalled", func(r *notificationv1.Receiver) bool { return runtime.IsStalled(r) })
	if got.Status.WebhookPath != "" {
		t.Fatalf("an unsupported Receiver publishes path %q", got.Status.WebhookPath)
	}
	if r := runtime.Reason(got, meta.ReadyCondition); r != meta.InvalidSpecReason {
		t.Fatalf("Ready reason %q, want %s", r, meta.InvalidSpecReason)
	}
}

func TestSuspendedReceiverRefusesAndResumes(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.GenericReceiver, nil)
	obj := &notificationv1.Receiver{}
	if err := env.Client.Get(context.Background(), receiverKey(ns), obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopy())
	obj.Spec.Suspend = true
	if err := env.Client.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
	// The server reads Receivers from the manager's cache: wait until it
	// sees the suspension (the calls before may still be accepted), then
	// check that calls change nothing.
	eventually(t, "the server to see the suspension", func() bool {
		code, _ := post(t, url, nil, nil)
		return code == http.StatusServiceUnavailable
	})
	before := requestedAt(t, ns, "target")
	wantStatus(t, url, nil, nil, http.StatusServiceUnavailable)
	if got := requestedAt(t, ns, "target"); got != before {
		t.Fatalf("a suspended Receiver requested a reconcile: %q, was %q", got, before)
	}
	patch = client.MergeFrom(obj.DeepCopy())
	obj.Spec.Suspend = false
	if err := env.Client.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server to see the resumption", func() bool {
		code, _ := post(t, url, nil, nil)
		return code == http.StatusOK
	})
	if got := requestedAt(t, ns, "target"); got == "" || got == before {
		t.Fatalf("the resumed Receiver requested no reconcile (%q)", got)
	}
}

func TestWildcardMatchLabelsAndResourceFilter(t *testing.T) {
	ns := env.Namespace(t)
	team := map[string]string{"team": "web"}
	newBucket(t, ns, "web-a", team)
	newBucket(t, ns, "web-b", team)
	newBucket(t, ns, "db", map[string]string{"team": "db"})
	url, _ := newReceiver(t, ns, notificationv1.GenericReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Resources = []notificationv1.ReceiverResource{{Kind: sourcev1.BucketKind, Name: "*", MatchLabels: team}}
		r.Spec.ResourceFilter = `res.metadata.name == req.bucket`
	})
	wantStatus(t, url, headers("Content-Type", "application/json"), []byte(`{"bucket":"web-b"}`), http.StatusOK)
	wantRequested(t, ns, "web-b")
	wantNotRequested(t, ns, "web-a")
	wantNotRequested(t, ns, "db")
}

func TestFailedDeliveryCanBeRetried(t *testing.T) {
	ns := env.Namespace(t)
	url, token := newReceiver(t, ns, notificationv1.GenericHMACReceiver, nil)
	body := []byte(`{"image":"ghcr.io/org/app:v2"}`)
	h := headers("Content-Type", "application/json", "X-Signature", sha256Sig(token, body))
	// The Bucket does not exist yet: the delivery fails...
	wantStatus(t, url, h, body, http.StatusInternalServerError)
	newBucket(t, ns, "target", nil)
	// ...and the sender's retry of the same body is no replay.
	wantStatus(t, url, h, body, http.StatusOK)
	wantRequested(t, ns, "target")
	wantStatus(t, url, h, body, http.StatusConflict)
}

func TestLabelledTokenSecretChangeMovesThePathAtOnce(t *testing.T) {
	ns := env.Namespace(t)
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-token", Namespace: ns, Labels: map[string]string{meta.WatchLabel: meta.WatchLabelEnabled}},
		Data:       map[string][]byte{"token": []byte("first")},
	})
	create(t, &notificationv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notificationv1.ReceiverSpec{
			Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{bucketResource("target")},
		},
	})
	waitReceiver(t, receiverKey(ns), "at the first token's path", func(r *notificationv1.Receiver) bool {
		return r.Status.WebhookPath == notificationv1.WebhookPath("first", "hook", ns)
	})
	secret := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "webhook-token"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["token"] = []byte("second")
	if err := env.Client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	// The interval is 10 minutes: only the watch on the labelled Secret
	// moves the path within the wait.
	waitReceiver(t, receiverKey(ns), "at the second token's path", func(r *notificationv1.Receiver) bool {
		return r.Status.WebhookPath == notificationv1.WebhookPath("second", "hook", ns)
	})
}

func TestBrokenSpecOnAPublishedPathAnswersUnavailable(t *testing.T) {
	ns := env.Namespace(t)
	newBucket(t, ns, "target", nil)
	url, _ := newReceiver(t, ns, notificationv1.GenericReceiver, nil)
	obj := &notificationv1.Receiver{}
	if err := env.Client.Get(context.Background(), receiverKey(ns), obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopy())
	obj.Spec.ResourceFilter = `res.metadata.name +`
	if err := env.Client.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
	waitReceiver(t, receiverKey(ns), "stalled", func(r *notificationv1.Receiver) bool { return runtime.IsStalled(r) })
	eventually(t, "the server to answer 503", func() bool {
		code, _ := post(t, url, nil, nil)
		return code == http.StatusServiceUnavailable
	})
	wantNotRequested(t, ns, "target")
}
