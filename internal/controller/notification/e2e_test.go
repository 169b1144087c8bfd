package notification

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// A Kustomization that keeps failing alerts once per distinct failure,
// however often it retries and even when its controller reports the same
// failure again (as a restarted one does), and once when it recovers.
func TestFailingKustomizationAlertsOncePerFailureAndOnRecovery(t *testing.T) {
	testenv.Require(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	s := newSink(t)

	p := genericProvider(ns, "webhook", s.URL+"/hook")
	a := newAlert(ns, "app", "webhook", sourceRef("Kustomization", "app"))
	a.Spec.EventMetadata = map[string]string{"cluster": "test"}
	create(t, p, a)
	waitReady(t, a, metav1.ConditionTrue, meta.SucceededReason)

	// A repository whose kustomization.yaml names a file that is not there.
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{
		"deploy/kustomization.yaml": "resources:\n- missing-one.yaml\n",
	})
	create(t, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL("app.git"), Interval: metav1.Duration{Duration: time.Hour}},
	})
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
			Path:          "deploy",
			Interval:      metav1.Duration{Duration: time.Hour},
			RetryInterval: &metav1.Duration{Duration: 200 * time.Millisecond},
			Prune:         true,
		},
	}
	create(t, ks)

	first := s.waitEvents(t, "/hook", 1)[0]
	if first.Severity != runtime.SeverityError || !strings.Contains(first.Message, "missing-one.yaml") {
		t.Fatalf("first alert: %s %q, want the build failure", first.Severity, first.Message)
	}
	rev1 := first.Metadata["revision"]
	if !strings.HasPrefix(rev1, gs.DefaultBranch+"@sha1:") || first.Metadata["cluster"] != "test" {
		t.Errorf("first alert metadata %v, want the revision and the Alert's eventMetadata", first.Metadata)
	}
	// The Kustomization retries every 200ms; let it fail a few more times.
	waitRetried(t, client.ObjectKeyFromObject(ks), 3)
	// A restarted controller reports the failure it finds again; that is
	// a duplicate within the rate-limit interval.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ks), ks); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		recorder.Eventf(ks, map[string]string{"revision": rev1}, runtime.SeverityError, first.Reason, "%s", first.Message)
	}

	// A second, different failure.
	gs.Must[string](t)(w.CommitFiles("another missing file", map[string]string{"deploy/kustomization.yaml": "resources:\n- missing-two.yaml\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	env.RequestReconcile(t, &sourcev1.GitRepository{}, client.ObjectKey{Namespace: ns, Name: "app"})
	second := s.waitEvents(t, "/hook", 2)[1]
	if second.Severity != runtime.SeverityError || !strings.Contains(second.Message, "missing-two.yaml") {
		t.Fatalf("second alert: %s %q, want the new build failure", second.Severity, second.Message)
	}
	waitRetried(t, client.ObjectKeyFromObject(ks), 3)

	// The fix.
	gs.Must[string](t)(w.CommitFiles("fix", map[string]string{
		"deploy/kustomization.yaml": "resources:\n- cm.yaml\n",
		"deploy/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: " + ns + "\ndata:\n  k: v\n",
	}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	env.RequestReconcile(t, &sourcev1.GitRepository{}, client.ObjectKey{Namespace: ns, Name: "app"})
	eventually(t, "the Kustomization applies the fix", func() bool {
		return env.Client.Get(ctx, client.ObjectKeyFromObject(ks), ks) == nil && runtime.IsReady(ks) &&
			ks.Status.LastAppliedRevision != "" && ks.Status.LastAppliedRevision != rev1 && ks.Status.LastAppliedRevision != second.Metadata["revision"]
	})
	third := s.waitEvents(t, "/hook", 3)[2]
	if third.Severity != runtime.SeverityInfo || !strings.Contains(third.Message, "ConfigMap/"+ns+"/app") {
		t.Errorf("recovery alert: %s %q, want the applied change", third.Severity, third.Message)
	}

	// The recorder posts in order, so everything posted before the
	// recovery was handled before it; wait for deliveries in flight.
	cfg.Server.Dispatcher.Wait()
	if got := s.events("/hook"); len(got) != 3 {
		for _, ev := range got {
			t.Logf("alert: %s %s %q", ev.Severity, ev.Reason, ev.Message)
		}
		t.Errorf("got %d alerts, want 3: one per distinct failure and one on recovery", len(got))
	}
}

// waitRetried makes the Kustomization reconcile n more times, each after
// the previous one ended, by requesting a reconcile and waiting until it
// was handled: on top of its own retries, n reconciles that saw the same
// failure.
func waitRetried(t *testing.T, key client.ObjectKey, n int) {
	t.Helper()
	for range n {
		token := env.RequestReconcile(t, &kustomizev1.Kustomization{}, key)
		eventually(t, "the Kustomization handles reconcile request "+token, func() bool {
			ks := &kustomizev1.Kustomization{}
			return env.Client.Get(context.Background(), key, ks) == nil && ks.Status.LastHandledReconcileAt == token
		})
	}
}
