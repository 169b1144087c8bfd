package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/install"
)

// create secret receiver generates a token it never prints; create
// receiver waits for the real reconciler and prints the URL that the
// token, name and namespace give; get, get all, suspend, resume, export
// and delete work on the Receiver.
func TestReceiverCommandsWithRealController(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)

	r := kgotk(t, "", "create", "secret", "receiver", "github-token", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Secret "+ns+"/github-token created with keys token") {
		t.Fatalf("create secret receiver:\n%s", r)
	}
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github-token"}, secret); err != nil {
		t.Fatal(err)
	}
	token := string(secret.Data["token"])
	if len(token) != 40 {
		t.Fatalf("generated token has %d characters, want 40", len(token))
	}
	if strings.Contains(r.String(), token) {
		t.Fatalf("the token was printed:\n%s", r)
	}

	r = kgotk(t, "", "create", "receiver", "github", "--type=github", "--event=ping", "--event=push",
		"--resource=GitRepository/podinfo", "--resource=Kustomization/podinfo", "--secret-ref=github-token",
		"--webhook-url=https://gotk-webhook.example.com/", "-n", ns, "--timeout=2m")
	want := "https://gotk-webhook.example.com" + notificationv1.WebhookPath(token, "github", ns)
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("create receiver: want %s on stdout:\n%s", want, r)
	}
	rcv := &notificationv1.Receiver{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, rcv); err != nil {
		t.Fatal(err)
	}
	if len(rcv.Spec.Resources) != 2 || rcv.Spec.Resources[1].Kind != "Kustomization" || strings.Join(rcv.Spec.Events, ",") != "ping,push" {
		t.Fatalf("Receiver spec: %+v", rcv.Spec)
	}

	r = kgotk(t, "", "create", "receiver", "bad", "--type=github", "--resource=Nothing/podinfo", "--secret-ref=github-token", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, `"Nothing" is not a gotk kind`) {
		t.Fatalf("create receiver with an unknown kind must fail:\n%s", r)
	}

	r = kgotk(t, "", "get", "receivers", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "github") || !strings.Contains(r.stdout, "Receiver initialized for path") {
		t.Errorf("get receivers:\n%s", r)
	}
	r = kgotk(t, "", "get", "all", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "receiver/github") {
		t.Errorf("get all:\n%s", r)
	}

	r = kgotk(t, "", "suspend", "receiver", "github", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/github suspended") {
		t.Fatalf("suspend receiver:\n%s", r)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, rcv); err != nil || !rcv.Spec.Suspend {
		t.Fatalf("the Receiver is not suspended (%v)", err)
	}
	r = kgotk(t, "", "resume", "receiver", "github", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/github resumed") {
		t.Fatalf("resume receiver:\n%s", r)
	}

	r = kgotk(t, "", "export", "receiver", "github", "-n", ns)
	if r.code != 0 {
		t.Fatalf("export receiver:\n%s", r)
	}
	objs := decodeYAML(t, r.stdout)
	if len(objs) != 1 || objs[0].Object["status"] != nil || objs[0].GetKind() != notificationv1.ReceiverKind {
		t.Fatalf("export receiver: %s", r.stdout)
	}
	if err := install.ApplyObject(context.Background(), e.Client, objs[0], client.DryRunAll); err != nil {
		t.Errorf("the API server refused the export: %v", err)
	}

	r = kgotk(t, "", "delete", "receiver", "github", "--silent", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/github deleted") {
		t.Fatalf("delete receiver:\n%s", r)
	}
	eventually(t, "the Receiver is gone", func() bool {
		return apierrors.IsNotFound(e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, &notificationv1.Receiver{}))
	}, func() string { return "" })
}
