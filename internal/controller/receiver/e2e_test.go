package receiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func configMapManifest(ns, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: %s\ndata:\n  version: %q\n", ns, value)
}

// pushPayload is GitHub's push delivery for a push of after onto main.
func pushPayload(cloneURL, before, after string) []byte {
	return []byte(fmt.Sprintf(`{"ref":"refs/heads/%s","before":"%s","after":"%s","created":false,"deleted":false,"forced":false,`+
		`"repository":{"id":1296269,"name":"app","full_name":"octo-org/app","clone_url":"%s","default_branch":"%s"},`+
		`"pusher":{"name":"octocat","email":"octocat@example.com"},"head_commit":{"id":"%s","message":"bump version"}}`,
		gs.DefaultBranch, before, after, cloneURL, gs.DefaultBranch, after))
}

// TestSignedGitHubPushAppliesTheNewRevisionAtOnce: with an interval of an
// hour on both, a GitRepository and its Kustomization pick up a pushed
// commit as soon as GitHub's signed push webhook arrives; the same
// delivery sent again, a bad signature and an oversized body are refused
// and request nothing.
func TestSignedGitHubPushAppliesTheNewRevisionAtOnce(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"config.yaml": configMapManifest(ns, "1")})
	first := gs.Must[string](t)(w.Head())
	create(t,
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL("app.git"), Interval: metav1.Duration{Duration: time.Hour}},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
				Path:      "./", Prune: true, Interval: metav1.Duration{Duration: time.Hour},
			},
		})
	ksKey := client.ObjectKey{Namespace: ns, Name: "app"}
	applied := func(rev string) func() bool {
		return func() bool {
			k := &kustomizev1.Kustomization{}
			return env.Client.Get(ctx, ksKey, k) == nil && runtime.IsReady(k) && k.Status.LastAppliedRevision == rev
		}
	}
	eventually(t, "the first revision applied", applied(gs.DefaultBranch+"@sha1:"+first))

	url, token := newReceiver(t, ns, notificationv1.GitHubReceiver, func(r *notificationv1.Receiver) {
		r.Spec.Events = []string{"ping", "push"}
		r.Spec.Resources = []notificationv1.ReceiverResource{
			{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind, Name: "app"},
			{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind, Name: "app"},
		}
	})

	second := gs.Must[string](t)(w.CommitFiles("bump version", map[string]string{"config.yaml": configMapManifest(ns, "2")}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	body := pushPayload(srv.RepoURL("app.git"), first, second)
	h := githubHeaders("push", "d2a2d3a0-b2b3-11ef-8d6c-5e1e3c1b2a01", token, body)
	wantStatus(t, url, h, body, http.StatusOK)

	src := &sourcev1.GitRepository{}
	if err := env.Client.Get(ctx, ksKey, src); err != nil {
		t.Fatal(err)
	}
	requested := src.Annotations[meta.ReconcileRequestAnnotation]
	if requested == "" {
		t.Fatalf("the webhook did not ask GitRepository %s to reconcile", ksKey)
	}
	eventually(t, "the GitRepository to handle the webhook's request and store the pushed commit", func() bool {
		s := &sourcev1.GitRepository{}
		return env.Client.Get(ctx, ksKey, s) == nil && s.Status.LastHandledReconcileAt == requested &&
			s.Status.Artifact != nil && s.Status.Artifact.Revision == gs.DefaultBranch+"@sha1:"+second
	})
	eventually(t, "the pushed revision applied", applied(gs.DefaultBranch+"@sha1:"+second))
	k := &kustomizev1.Kustomization{}
	if err := env.Client.Get(ctx, ksKey, k); err != nil {
		t.Fatal(err)
	}
	if got := k.Annotations[meta.ReconcileRequestAnnotation]; got != requested {
		t.Fatalf("the Kustomization's request %q is not the webhook's %q", got, requested)
	}
	eventually(t, "the Kustomization to handle the request", func() bool {
		k := &kustomizev1.Kustomization{}
		return env.Client.Get(ctx, ksKey, k) == nil && k.Status.LastHandledReconcileAt == requested
	})
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["version"] != "2" {
		t.Fatalf("ConfigMap version is %q after the push, want 2", cm.Data["version"])
	}

	// Refused: the same delivery again, the same body under a new
	// delivery id, a bad signature, and bodies over the cap (announced by
	// Content-Length, and streamed without one).
	wantStatus(t, url, h, body, http.StatusConflict)
	again := githubHeaders("push", "e7c1f0b4-b2b3-11ef-8d6c-5e1e3c1b2a02", token, body)
	wantStatus(t, url, again, body, http.StatusConflict)
	bad := githubHeaders("push", "f0a9e2c6-b2b3-11ef-8d6c-5e1e3c1b2a03", "guessed", body)
	wantStatus(t, url, bad, body, http.StatusUnauthorized)
	big := append([]byte(`{"padding":"`), bytes.Repeat([]byte("x"), maxBody)...)
	big = append(big, []byte(`"}`)...)
	wantStatus(t, url, githubHeaders("push", "0b5d7a1e-b2b3-11ef-8d6c-5e1e3c1b2a04", token, big), big, http.StatusRequestEntityTooLarge)
	chunked, err := http.NewRequest(http.MethodPost, url, struct{ *strings.Reader }{strings.NewReader(string(big))})
	if err != nil {
		t.Fatal(err)
	}
	chunked.Header = githubHeaders("push", "1c6e8b2f-b2b3-11ef-8d6c-5e1e3c1b2a05", token, big)
	resp, err := http.DefaultClient.Do(chunked)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || chunked.ContentLength > 0 {
		t.Fatalf("a streamed body over the cap got %d (Content-Length %d), want 413 without Content-Length", resp.StatusCode, chunked.ContentLength)
	}
	if err := env.Client.Get(ctx, ksKey, src); err != nil {
		t.Fatal(err)
	}
	if got := src.Annotations[meta.ReconcileRequestAnnotation]; got != requested {
		t.Fatalf("a refused webhook asked for a reconcile: %s=%s, want still %s", meta.ReconcileRequestAnnotation, got, requested)
	}

}
