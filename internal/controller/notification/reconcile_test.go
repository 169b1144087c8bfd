package notification

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/controller/alert"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

func wantIn(t *testing.T, what, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: %q lacks %q", what, msg, p)
		}
	}
}

// A Provider is Ready when its type is supported and its Secrets make a
// working configuration; what an edit must fix stalls it; a missing
// Secret is retried until it appears.
func TestProviderReadiness(t *testing.T) {
	testenv.Require(t)
	ns := env.Namespace(t)
	ctx := context.Background()

	good := genericProvider(ns, "good", "http://webhook.apps.svc.cluster.local/hook")
	nats := genericProvider(ns, "nats", "nats://nats:4222")
	nats.Spec.Type = "nats"
	expr := genericProvider(ns, "expr", "https://github.com/org/app")
	expr.Spec.Type = "github"
	expr.Spec.CommitStatusExpr = "event.involvedObject.name +"
	expr.Spec.SecretRef = &meta.LocalObjectReference{Name: "gh"}
	secret := genericProvider(ns, "secret", "")
	secret.Spec.SecretRef = &meta.LocalObjectReference{Name: "webhook"}
	suspended := genericProvider(ns, "suspended", "http://x/")
	suspended.Spec.Suspend = true
	create(t, good, nats, expr, secret, suspended)
	env.CreateSecret(t, ns, "gh", map[string][]byte{"token": []byte("t")})

	wantIn(t, "good", waitReady(t, good, metav1.ConditionTrue, meta.SucceededReason), "generic")
	wantIn(t, "nats", waitReady(t, nats, metav1.ConditionFalse, notificationv1.InvalidConfigReason), `"nats" is not supported`)
	if !runtime.IsStalled(nats) {
		t.Error("an unsupported type does not stall the Provider")
	}
	wantIn(t, "expr", waitReady(t, expr, metav1.ConditionFalse, notificationv1.InvalidConfigReason), "spec.commitStatusExpr")
	wantIn(t, "secret", waitReady(t, secret, metav1.ConditionFalse, meta.DependencyNotReadyReason), "spec.secretRef", ns+"/webhook", "not found")
	wantIn(t, "suspended", waitReady(t, suspended, metav1.ConditionFalse, meta.SuspendedReason), "suspended")

	env.CreateSecret(t, ns, "webhook", map[string][]byte{
		"address": []byte("http://webhook.apps.svc.cluster.local/hook"),
		"headers": []byte("X-Team: ops\n"),
	})
	waitReady(t, secret, metav1.ConditionTrue, meta.SucceededReason)

	bad := genericProvider(ns, "bad-headers", "http://x/")
	bad.Spec.SecretRef = &meta.LocalObjectReference{Name: "bad-headers"}
	env.CreateSecret(t, ns, "bad-headers", map[string][]byte{"headers": []byte("- not\n- a map\n")})
	create(t, bad)
	wantIn(t, "bad headers", waitReady(t, bad, metav1.ConditionFalse, notificationv1.InvalidConfigReason), `"headers"`)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(bad), bad); err != nil {
		t.Fatal(err)
	}
	for _, c := range bad.Status.Conditions {
		if strings.Contains(c.Message, "- not") {
			t.Errorf("condition %s shows the Secret's content: %s", c.Type, c.Message)
		}
	}
}

// An Alert is Ready when its Provider exists and is usable and it is not
// suspended; it follows its Provider's changes without being edited.
func TestAlertReadiness(t *testing.T) {
	testenv.Require(t)
	ns := env.Namespace(t)
	ctx := context.Background()

	a := newAlert(ns, "later", "later", sourceRef("Kustomization", "*"))
	create(t, a)
	wantIn(t, "missing provider", waitReady(t, a, metav1.ConditionFalse, alert.ProviderNotFoundReason), ns+"/later", "not found")
	p := genericProvider(ns, "later", "http://x/")
	create(t, p)
	waitReady(t, a, metav1.ConditionTrue, meta.SucceededReason)

	// A merge patch: the Provider's reconciler may write it meanwhile.
	suspend := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspend":true}}`))
	if err := env.Client.Patch(ctx, p, suspend); err != nil {
		t.Fatal(err)
	}
	wantIn(t, "suspended provider", waitReady(t, a, metav1.ConditionFalse, meta.DependencyNotReadyReason), "suspended")

	regex := newAlert(ns, "regex", "later", sourceRef("Kustomization", "*"))
	regex.Spec.ExclusionList = []string{"ok", "(unclosed"}
	suspended := newAlert(ns, "suspended", "later", sourceRef("Kustomization", "*"))
	suspended.Spec.Suspend = true
	create(t, regex, suspended)
	wantIn(t, "regex", waitReady(t, regex, metav1.ConditionFalse, notificationv1.InvalidConfigReason), "spec.exclusionList[1]", "(unclosed")
	waitReady(t, suspended, metav1.ConditionFalse, meta.SuspendedReason)
}

// With --no-cross-namespace-refs, an Alert may only select objects of its
// own namespace.
func TestAlertCrossNamespaceRefusedWhenLockedDown(t *testing.T) {
	src := sourceRef("Kustomization", "app")
	src.Namespace = "tenant-b"
	a := newAlert("tenant-a", "spy", "p", src)
	if err := alert.Validate(a, false); err != nil {
		t.Errorf("without the flag: %v", err)
	}
	err := alert.Validate(a, true)
	if err == nil || runtime.ReasonOf(err, "") != meta.AccessDeniedReason || !runtime.IsStalling(err) {
		t.Fatalf("with the flag: %v, want a stalling AccessDenied", err)
	}
	wantIn(t, "cross-namespace", err.Error(), "spec.eventSources[0]", "tenant-b", "--no-cross-namespace-refs")
	src.Namespace = "tenant-a"
	if err := alert.Validate(newAlert("tenant-a", "own", "p", src), true); err != nil {
		t.Errorf("own namespace named explicitly: %v", err)
	}
}
