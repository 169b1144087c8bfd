package v1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestWebhookPath(t *testing.T) {
	// Computed independently: printf '%s' 's3cr3tgithub-receiverflux-system' | sha256sum
	const want = "/hook/605dbd4976c3504a20afec155a68122702621389b3b29f71feb118008a1696a1"
	r := &Receiver{ObjectMeta: metav1.ObjectMeta{Name: "github-receiver", Namespace: "flux-system"}}
	if got := r.WebhookPath("s3cr3t"); got != want {
		t.Errorf("WebhookPath = %q, want %q", got, want)
	}
	if got := WebhookPath("s3cr3t", "github-receiver", "flux-system"); got != want {
		t.Errorf("WebhookPath func = %q, want %q", got, want)
	}
}

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"Receiver", "ReceiverList"} {
		if !s.Recognizes(GroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not recognize %s", kind)
		}
	}
}
