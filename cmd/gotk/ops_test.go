package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// events --watch prints the events recorded after it started, and only
// those of gotk objects.
func TestEventsWatch(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	fixedAges(t)
	b := kgotkBackground(t, "events", "--watch", "-n", ns)
	eventually(t, "the header", func() bool { return strings.HasPrefix(b.out.String(), "LAST SEEN") }, b.out.String)
	for i, ref := range []corev1.ObjectReference{
		{APIVersion: "v1", Kind: "Pod", Name: "p", Namespace: ns},
		{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "apps", Namespace: ns},
	} {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "ev" + string(rune('a'+i)), Namespace: ns},
			InvolvedObject: ref, Type: corev1.EventTypeNormal, Reason: "Progressing", Message: "event for " + ref.Kind,
			LastTimestamp: metav1.Now(),
		}
		if err := e.Client.Create(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the Kustomization's event", func() bool { return strings.Contains(b.out.String(), "event for Kustomization") }, b.out.String)
	if code := b.stop(t); code != 0 || strings.Contains(b.out.String(), "event for Pod") {
		t.Errorf("exit %d, output:\n%s", code, b.out.String())
	}
	if !strings.Contains(b.out.String(), "10m         Normal   Progressing   Kustomization/apps   event for Kustomization") {
		t.Errorf("row:\n%q", b.out.String())
	}

	// The real controller's events, through --for.
	root := t.TempDir()
	gitserver.MustSeed(t, root, "r.git", map[string]string{"a": "b"})
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	if r := kgotk(t, "", "create", "source", "git", "r", "--url="+srv.RepoURL("r.git"), "--branch=main", "-n", ns); r.code != 0 {
		t.Fatal(r)
	}
	eventually(t, "the NewRevision event", func() bool {
		r := kgotk(t, "", "events", "--for", "gitrepository/r", "-n", ns)
		return r.code == 0 && strings.Contains(r.stdout, "Normal   NewRevision   GitRepository/r   stored artifact for commit 'initial commit'")
	}, func() string { return kgotk(t, "", "events", "-n", ns).String() })
	r := kgotk(t, "", "events", "--for", "Deployment/x", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "use Kind/name of a gotk kind") {
		t.Errorf("--for a kind that is not gotk's:\n%s", r)
	}
}

// Completion lists kinds and the names of objects in the cluster.
func TestCompleteObjectNames(t *testing.T) {
	goldenFixture(t)
	complete := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		all := append([]string{"__complete", "--kubeconfig=" + objKubeconfig, "-n", goldenNS}, args...)
		if code := run(all, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"reconcile", "kustomization", ""}, []string{"apps\n", "infra\n", "root\n"}, nil},
		{[]string{"get", "sources", "git", "p"}, []string{"paused\n", "podinfo\n"}, []string{"broken"}},
		{[]string{"suspend", "source", "git", "podinfo", ""}, []string{"broken\n", "paused\n"}, []string{"podinfo\n"}},
		{[]string{"events", "--for", "Kus"}, []string{"Kustomization/\n"}, nil},
		{[]string{"events", "--for", "Kustomization/a"}, []string{"Kustomization/apps\n"}, []string{"root"}},
		{[]string{"create", "kustomization", "x", "--source", ""}, []string{"podinfo\n"}, nil},
		{[]string{"create", "source", "chart", "x", "--source", ""}, []string{"HelmRepository/charts\n", "GitRepository/podinfo\n"}, nil},
		{[]string{"create", "source", "chart", "x", "--source", "Git"}, []string{"GitRepository/podinfo\n"}, []string{"HelmRepository/"}},
		{[]string{"trace", "dep"}, []string{"deployment\n"}, nil},
		{[]string{"get", "all", "--status-selector", ""}, []string{"ready=false\n"}, nil},
	} {
		got := complete(tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("completing %v: want %q in\n%s", tc.args, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("completing %v: %q must not be offered:\n%s", tc.args, n, got)
			}
		}
	}
}

// -A puts NAMESPACE first and lists every namespace; -o json prints a
// List.
func TestGetAllNamespacesAndJSON(t *testing.T) {
	goldenFixture(t)
	r := kgotk(t, "", "get", "ks", "-A")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "NAMESPACE ") || !regexp.MustCompile(`\ngolden +apps +master@sha1:`).MatchString(r.stdout) {
		t.Errorf("get ks -A:\n%s", r)
	}
	r = kgotk(t, "", "get", "sources", "git", "-n", goldenNS, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"kind": "List"`) || strings.Count(r.stdout, `"kind": "GitRepository"`) != 3 || strings.Contains(r.stdout, "managedFields") {
		t.Errorf("get -o json:\n%s", r)
	}
	r = kgotk(t, "", "stats", "-A")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "RECONCILERS") {
		t.Errorf("stats -A:\n%s", r)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "ks", "-o", "table"}, `unknown --output "table"`},
		{[]string{"get", "ks", "--status-selector", "ready"}, "use conditionType=status"},
		{[]string{"get", "ks", "x", "-A"}, "a name needs one namespace"},
		{[]string{"get", "ks", "nope", "-n", goldenNS}, "Kustomization nope not found in namespace golden: list them with gotk get kustomizations -n golden"},
		{[]string{"export", "ks", "-n", goldenNS}, "or give --all (not both)"},
		{[]string{"tree", "ks", "apps", "-o", "yaml", "-n", goldenNS}, `unknown --output "yaml"`},
		{[]string{"trace", "widget", "x"}, `the cluster serves no kind "widget"`},
		{[]string{"trace", "x"}, "gotk trace KIND NAME or gotk trace KIND/NAME"},
		{[]string{"trace", "namespace", "default"}, "Namespace default is not managed by gotk"},
		{[]string{"trace", "configmap", "nope", "-n", goldenNS}, "ConfigMap nope not found in namespace golden"},
		{[]string{"logs", "--level=loud"}, `--level "loud": use debug, info or error`},
		{[]string{"logs", "--kind=Deployment"}, `--kind "Deployment" is not a gotk kind`},
		{[]string{"logs"}, "no gotk controller pods in namespace gotk-system"},
	} {
		r := kgotk(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want a failure mentioning %q, got\n%s", tc.args, tc.want, r)
		}
	}
	// A Kustomization that applied nothing yet: a tree of one, and a hint.
	ns := objects(t).Namespace(t)
	if r := kgotk(t, "", "create", "ks", "empty", "--source=x", "-n", ns, "--timeout=1s"); !strings.Contains(r.stderr, "created") {
		t.Fatal(r)
	}
	r = kgotk(t, "", "tree", "ks", "empty", "-n", ns)
	if r.code != 0 || r.stdout != "Kustomization/"+ns+"/empty\n" || !strings.Contains(r.stderr, "has no inventory yet") {
		t.Errorf("tree of an empty Kustomization:\n%s", r)
	}
}

// The lines the in-process controller logged, in the JSON that a
// controller pod writes, filtered as gotk logs filters a pod's log.
func TestLogsFilterControllerLines(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	root := t.TempDir()
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	// A source that fails logs "Reconciler error" lines with the object's
	// keys; a suspended one logs a debug line.
	r := kgotk(t, "", "create", "source", "git", "failing", "--url="+srv.RepoURL("missing.git"), "--branch=main", "-n", ns, "--timeout=30s")
	if r.code == 0 {
		t.Fatalf("the source must fail:\n%s", r)
	}
	if r := kgotk(t, "", "create", "source", "git", "quiet", "--url="+srv.RepoURL("missing.git"), "--branch=main", "-n", ns, "--timeout=1s"); r.code == 0 {
		t.Fatal(r)
	}
	if r := kgotk(t, "", "suspend", "source", "git", "quiet", "-n", ns); r.code != 0 {
		t.Fatal(r)
	}
	if _, err := requestReconcile(ctxFor(t, time.Minute), e.Client, gitRepositoryKind, client.ObjectKey{Namespace: ns, Name: "quiet"}, false); err != nil {
		t.Fatal(err)
	}
	filter := func(f logsFlags, namespace string) string {
		t.Helper()
		lf, err := newLogFilter(&f, namespace)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := filterLogs(strings.NewReader(controllerLog.String()), lf, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	eventually(t, "the suspended source's debug line", func() bool {
		return strings.Contains(filter(logsFlags{name: "quiet"}, ns), "debug GitRepository/"+ns+"/quiet - reconciliation is suspended")
	}, controllerLog.String)

	errorsOnly := filter(logsFlags{kind: "gitrepository", level: "error"}, ns)
	if !strings.Contains(errorsOnly, "error GitRepository/"+ns+"/failing - Reconciler error: ") {
		t.Errorf("error lines of the failing source:\n%s", errorsOnly)
	}
	for _, line := range strings.Split(strings.TrimSpace(errorsOnly), "\n") {
		if !strings.Contains(line, " error GitRepository/"+ns+"/") {
			t.Errorf("a line that does not pass the filter: %q", line)
		}
	}
	if got := filter(logsFlags{name: "failing", level: "info"}, ns); strings.Contains(got, "quiet") || !strings.Contains(got, "/failing - ") {
		t.Errorf("by name:\n%s", got)
	}
	if got := filter(logsFlags{kind: "Kustomization"}, ns); got != "" {
		t.Errorf("no Kustomization lines were logged, got:\n%s", got)
	}
	if got := filter(logsFlags{}, ""); !strings.Contains(got, "Starting workers") {
		t.Errorf("-A without filters keeps the start-up lines:\n%.2000s", got)
	}
}

// The pure parts of log filtering, on hand-written lines.
func TestLogFilterLines(t *testing.T) {
	lines := strings.Join([]string{
		`{"level":"info","ts":"2026-01-02T03:04:05.000Z","msg":"starting manager"}`,
		`{"level":"info","ts":"2026-01-02T03:04:06.000Z","msg":"Starting workers","controller":"kustomization","controllerKind":"Kustomization","worker count":4}`,
		`{"level":"info","ts":"2026-01-02T03:04:07.000Z","msg":"server-side apply completed","controller":"kustomization","controllerKind":"Kustomization","Kustomization":{"name":"apps","namespace":"web"},"namespace":"web","name":"apps","reconcileID":"1"}`,
		`{"level":"Level(-2)","ts":"2026-01-02T03:04:08.000Z","msg":"trace detail","controllerKind":"Kustomization","namespace":"web","name":"apps"}`,
		`{"level":"error","ts":"2026-01-02T03:04:09.000Z","msg":"Reconciler error","controllerKind":"GitRepository","namespace":"web","name":"repo","error":"auth failed"}`,
		`not json at all`,
		`{"level":"info","ts":"x","msg":"other namespace","controllerKind":"Kustomization","namespace":"dev","name":"apps"}`,
	}, "\n")
	for _, tc := range []struct {
		f    logsFlags
		ns   string
		want string
	}{
		{logsFlags{}, "web", "2026-01-02T03:04:07.000Z info Kustomization/web/apps - server-side apply completed\n" +
			"2026-01-02T03:04:08.000Z Level(-2) Kustomization/web/apps - trace detail\n" +
			"2026-01-02T03:04:09.000Z error GitRepository/web/repo - Reconciler error: auth failed\n"},
		{logsFlags{level: "info"}, "web", "2026-01-02T03:04:07.000Z info Kustomization/web/apps - server-side apply completed\n" +
			"2026-01-02T03:04:09.000Z error GitRepository/web/repo - Reconciler error: auth failed\n"},
		{logsFlags{kind: "ks", name: "apps"}, "", "2026-01-02T03:04:07.000Z info Kustomization/web/apps - server-side apply completed\n" +
			"2026-01-02T03:04:08.000Z Level(-2) Kustomization/web/apps - trace detail\n" +
			"x info Kustomization/dev/apps - other namespace\n"},
		{logsFlags{kind: "Kustomization"}, "", "2026-01-02T03:04:06.000Z info Kustomization - Starting workers\n" +
			"2026-01-02T03:04:07.000Z info Kustomization/web/apps - server-side apply completed\n" +
			"2026-01-02T03:04:08.000Z Level(-2) Kustomization/web/apps - trace detail\n" +
			"x info Kustomization/dev/apps - other namespace\n"},
		{logsFlags{level: "error"}, "", "2026-01-02T03:04:09.000Z error GitRepository/web/repo - Reconciler error: auth failed\n"},
	} {
		lf, err := newLogFilter(&tc.f, tc.ns)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := filterLogs(strings.NewReader(lines), lf, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%+v in %q:\n%s\nwant\n%s", tc.f, tc.ns, out.String(), tc.want)
		}
	}
	// Everything, unfiltered, keeps the lines that are not JSON as they are.
	var out bytes.Buffer
	if err := filterLogs(strings.NewReader(lines), logFilter{}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 7 || !strings.Contains(out.String(), "\nnot json at all\n") ||
		!strings.HasPrefix(out.String(), "2026-01-02T03:04:05.000Z info starting manager\n") {
		t.Errorf("unfiltered:\n%s", out.String())
	}
}
