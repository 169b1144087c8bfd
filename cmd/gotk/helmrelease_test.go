package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
	"github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// create helmrelease with values from a file and a Secret, into a target
// namespace it creates, waiting for the real helm controller; get; a new
// chart version through reconcile --with-source; reconcile --force and
// --reset; suspend, resume, export and delete (which uninstalls).
func TestCreateHelmReleaseWithRealController(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	srv := helmserver.Start(t, helmserver.Options{})
	srv.Add(t, helmserver.Chart{Name: "podinfo", Version: "6.0.0", Values: "greeting: hello\n"})
	r := kgotk(t, "", "create", "source", "helm", "charts", "--url="+srv.URL, "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create source helm:\n%s", r)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	gitserver.NoErr(t, os.WriteFile(values, []byte("greeting: from-file\n"), 0o600))
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "more", Namespace: ns}, Data: map[string][]byte{"values.yaml": []byte("other: x\n")}}
	gitserver.NoErr(t, e.Client.Create(ctx, sec))
	target := ns[:min(len(ns), 40)] + "-web"

	args := []string{"create", "helmrelease", "podinfo", "--source=HelmRepository/charts", "--chart=podinfo", "--chart-version=6.x",
		"--values=" + values, "--values-from=Secret/more", "--target-namespace=" + target, "--create-target-namespace", "-n", ns}
	r = kgotk(t, "", append(args, "--export")...)
	for _, want := range []string{"kind: HelmRelease", "chart: podinfo", "version: 6.x", "kind: HelmRepository", "greeting: from-file",
		"createNamespace: true", "targetNamespace: " + target, "kind: Secret", "name: more"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--export lacks %q:\n%s", want, r.stdout)
		}
	}
	r = kgotk(t, "", append(args, "--timeout=2m")...)
	if r.code != 0 || !strings.Contains(r.stderr, "released chart version 6.0.0") {
		t.Fatalf("create helmrelease:\n%s", r)
	}
	cm := &corev1.ConfigMap{}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: target + "-podinfo"}, cm))
	if cm.Data["greeting"] != "from-file" {
		t.Errorf("rendered %v", cm.Data)
	}

	r = kgotk(t, "", "get", "helmreleases", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "podinfo") || !strings.Contains(r.stdout, "6.0.0") {
		t.Errorf("get helmreleases:\n%s", r)
	}

	srv.Add(t, helmserver.Chart{Name: "podinfo", Version: "6.1.0", Values: "greeting: hello\n"})
	r = kgotk(t, "", "reconcile", "helmrelease", "podinfo", "--with-source", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "applied revision 6.1.0") {
		t.Fatalf("reconcile --with-source:\n%s", r)
	}
	hr := &helmv2.HelmRelease{}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo"}, hr))
	version := hr.Status.History.Latest().Version

	r = kgotk(t, "", "reconcile", "hr", "podinfo", "--force", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("reconcile --force:\n%s", r)
	}
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo"}, hr))
	if got := hr.Status.History.Latest().Version; got != version+1 || hr.Status.LastHandledForceAt == "" {
		t.Errorf("--force: newest version %d (was %d), lastHandledForceAt %q", got, version, hr.Status.LastHandledForceAt)
	}
	r = kgotk(t, "", "reconcile", "hr", "podinfo", "--reset", "-n", ns, "--timeout=2m")
	gitserver.NoErr(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo"}, hr))
	if r.code != 0 || hr.Status.LastHandledResetAt == "" {
		t.Errorf("reconcile --reset:\n%s\nlastHandledResetAt %q", r, hr.Status.LastHandledResetAt)
	}

	for _, verb := range []string{"suspend", "resume"} {
		if r = kgotk(t, "", verb, "helmrelease", "podinfo", "-n", ns); r.code != 0 {
			t.Errorf("%s:\n%s", verb, r)
		}
	}
	r = kgotk(t, "", "export", "helmrelease", "podinfo", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "kind: HelmRelease") || strings.Contains(r.stdout, "status:") {
		t.Errorf("export:\n%s", r)
	}
	r = kgotk(t, "", "delete", "helmrelease", "podinfo", "-n", ns, "--silent")
	if r.code != 0 {
		t.Fatalf("delete:\n%s", r)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: target + "-podinfo"}, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the release was not uninstalled after delete helmrelease")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Bad flags of create helmrelease are refused before anything is sent.
func TestCreateHelmReleaseRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--chart=podinfo"}, "--source is required"},
		{[]string{"--source=HelmRepository/charts"}, "--chart is required"},
		{[]string{"--source=Kustomization/x", "--chart=a"}, "Kind HelmRepository, GitRepository or Bucket"},
		{[]string{"--source=HelmRepository/charts", "--chart=a", "--values-from=Pod/x"}, "use Secret/name or ConfigMap/name"},
		{[]string{"--source=HelmRepository/charts", "--chart=a", "--values=/does/not/exist.yaml"}, "--values /does/not/exist.yaml"},
	} {
		r := gotk(t, "", append([]string{"create", "helmrelease", "x", "--export"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want an error with %q:\n%s", tc.args, tc.want, r)
		}
	}
}
