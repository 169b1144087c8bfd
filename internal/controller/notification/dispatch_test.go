package notification

import (
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// Each Alert forwards exactly the events its sources, severity, inclusion
// and exclusion lists select, with its eventMetadata and summary added to
// what the event already carries; a suspended Alert forwards nothing.
func TestAlertsSelectEvents(t *testing.T) {
	testenv.Require(t)
	ns, other := env.Namespace(t), env.Namespace(t)
	s := newSink(t)
	// Kustomizations whose labels matchLabels reads; suspended, so the
	// kustomize controller posts nothing about them.
	for name, labels := range map[string]map[string]string{"labelled": {"team": "a"}, "unlabelled": nil} {
		create(t, &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: kustomizev1.KustomizationSpec{Suspend: true, Interval: metav1.Duration{Duration: 3600e9}, Prune: true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "none"}},
		})
	}
	labelled := sourceRef("Kustomization", "*")
	labelled.MatchLabels = map[string]string{"team": "a"}
	cross := sourceRef("Kustomization", "app")
	cross.Namespace = ns
	alerts := []*notificationv1beta3.Alert{
		newAlert(ns, "by-name", "by-name", sourceRef("Kustomization", "app")),
		newAlert(ns, "glob", "glob", sourceRef("Kustomization", "app-*")),
		newAlert(ns, "labels", "labels", labelled),
		newAlert(ns, "errors", "errors", sourceRef("Kustomization", "*")),
		newAlert(ns, "filters", "filters", sourceRef("Kustomization", "*")),
		newAlert(ns, "suspended", "suspended", sourceRef("Kustomization", "*")),
		newAlert(other, "cross", "cross", cross),
		newAlert(ns, "meta", "meta", sourceRef("Kustomization", "app")),
		newAlert(ns, "other-kind", "other-kind", sourceRef("GitRepository", "*")),
	}
	alerts[3].Spec.EventSeverity = "error"
	alerts[4].Spec.InclusionList = []string{"succeeded$"}
	alerts[4].Spec.ExclusionList = []string{"^uninstall"}
	alerts[5].Spec.Suspend = true
	alerts[7].Spec.EventMetadata = map[string]string{"env": "prod", "revision": "from the Alert"}
	alerts[7].Spec.Summary = "prod cluster"
	for _, a := range alerts {
		create(t, genericProvider(a.Namespace, a.Name, s.URL+"/"+a.Name), a)
	}
	for _, a := range alerts {
		if a.Spec.Suspend {
			waitReady(t, a, metav1.ConditionFalse, meta.SuspendedReason)
			continue
		}
		waitReady(t, a, metav1.ConditionTrue, meta.SucceededReason)
	}

	const rev = "main@sha1:3333333333333333333333333333333333333333"
	for _, ev := range []struct{ name, severity, message string }{
		{"app", "info", "apply succeeded"},
		{"app-web", "error", "health check failed"},
		{"labelled", "info", "upgrade succeeded"},
		{"unlabelled", "info", "uninstall succeeded"},
		{"app-web", "trace", "progressing"},
	} {
		if got := postEvent(t, event(ns, ev.name, ev.severity, "Reason", ev.message, rev)); got != http.StatusAccepted {
			t.Fatalf("%s %q: %d", ev.name, ev.message, got)
		}
	}
	cfg.Server.Dispatcher.Wait()

	want := map[string][]string{
		"by-name":    {"app: apply succeeded"},
		"glob":       {"app-web: health check failed", "app-web: progressing"},
		"labels":     {"labelled: upgrade succeeded"},
		"errors":     {"app-web: health check failed"},
		"filters":    {"app: apply succeeded", "labelled: upgrade succeeded"},
		"suspended":  nil,
		"cross":      {"app: apply succeeded"},
		"meta":       {"app: apply succeeded"},
		"other-kind": nil,
	}
	for name, msgs := range want {
		var got []string
		for _, ev := range s.events("/" + name) {
			got = append(got, ev.InvolvedObject.Name+": "+ev.Message)
		}
		sort.Strings(got)
		if diff := cmp.Diff(msgs, got); diff != "" {
			t.Errorf("Alert %s forwarded (-want +got):\n%s", name, diff)
		}
	}
	if got := s.events("/meta"); len(got) == 1 {
		wantMD := map[string]string{"revision": rev, "env": "prod", "summary": "prod cluster"}
		if diff := cmp.Diff(wantMD, got[0].Metadata); diff != "" {
			t.Errorf("metadata sent (-want +got):\n%s", diff)
		}
	}
	if got := s.events("/by-name"); len(got) == 1 {
		if diff := cmp.Diff(map[string]string{"revision": rev}, got[0].Metadata); diff != "" {
			t.Errorf("metadata sent without eventMetadata (-want +got):\n%s", diff)
		}
	}
}

func TestMatchName(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything", true},
		{"app", "app", true},
		{"app", "app2", false},
		{"app-*", "app-web", true},
		{"app-*", "app-", true},
		{"app-*", "app", false},
		{"*-prod", "web-prod", true},
		{"*-prod", "web-prod-2", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
	} {
		if got := matchName(tc.pattern, tc.name); got != tc.want {
			t.Errorf("matchName(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}
