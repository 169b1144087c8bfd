package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
	"github.com/gotk-dev/gotk/internal/testenv/helmserver"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

// A private chart repository over HTTPS with basic auth and a client
// certificate: create secret helm, create source helm and create source
// chart (which wait for the real reconcilers), a new chart version pulled
// by reconcile --with-source, get, suspend, a refused reconcile, resume,
// export and delete.
func TestCreateSourceHelmAndChartWithRealController(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	srv := helmserver.Start(t, helmserver.Options{Username: "bot", Password: "s3cret-pass", TLS: true})
	srv.Add(t, helmserver.Chart{Name: "podinfo", Version: "6.0.0", Values: "greeting: hello\n", Files: map[string]string{"values-prod.yaml": "greeting: prod\n"}})
	dir := t.TempDir()
	files := map[string][]byte{"ca.crt": srv.CA, "tls.crt": srv.ClientCert, "tls.key": srv.ClientKey}
	for name, data := range files {
		gitserver.NoErr(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}

	r := kgotk(t, "", "create", "secret", "helm", "charts-auth", "--username=bot", "--password=s3cret-pass",
		"--ca-file="+filepath.Join(dir, "ca.crt"), "--cert-file="+filepath.Join(dir, "tls.crt"), "--key-file="+filepath.Join(dir, "tls.key"), "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Secret "+ns+"/charts-auth created with keys ca.crt, password, tls.crt, tls.key, username") {
		t.Fatalf("create secret helm:\n%s", r)
	}
	if strings.Contains(r.String(), "s3cret-pass") || strings.Contains(r.String(), "PRIVATE KEY") {
		t.Errorf("a secret value was printed:\n%s", r)
	}
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "charts-auth"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["username"]) != "bot" || string(secret.Data["password"]) != "s3cret-pass" || len(secret.Data) != 5 {
		t.Errorf("secret keys: %v", sortedKeys(secret.Data))
	}
	for k, want := range files {
		if string(secret.Data[k]) != string(want) {
			t.Errorf("secret %s differs from the file", k)
		}
	}

	r = kgotk(t, "", "create", "source", "helm", "charts", "--url="+srv.URL, "--secret-ref=charts-auth", "--cert-secret-ref=charts-auth", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create source helm:\n%s", r)
	}
	for _, want := range []string{
		"► applying HelmRepository " + ns + "/charts\n",
		"✔ HelmRepository " + ns + "/charts created\n",
		"✔ HelmRepository reconciled\n",
		"✔ fetched revision sha256:",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("create source helm output lacks %q:\n%s", want, r)
		}
	}
	repo := &sourcev1.HelmRepository{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "charts"}, repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.URL != srv.URL || repo.Spec.Type != "" || repo.Spec.SecretRef.Name != "charts-auth" || repo.Spec.CertSecretRef.Name != "charts-auth" || repo.Spec.Interval.Duration != time.Minute {
		t.Errorf("spec: %+v", repo.Spec)
	}
	if !appliedBy(repo.ManagedFields, install.FieldManager) {
		t.Errorf("not applied by the field manager gotk: %+v", repo.ManagedFields)
	}

	r = kgotk(t, "", "create", "source", "chart", "podinfo", "--source=HelmRepository/charts", "--chart=podinfo", "--chart-version=6.x", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ HelmChart "+ns+"/podinfo created\n") || !strings.Contains(r.stderr, "✔ fetched revision 6.0.0\n") {
		t.Fatalf("create source chart:\n%s", r)
	}
	key := client.ObjectKey{Namespace: ns, Name: "podinfo"}
	chart := &sourcev1.HelmChart{}
	if err := e.Client.Get(ctx, key, chart); err != nil {
		t.Fatal(err)
	}
	if chart.Spec.Chart != "podinfo" || chart.Spec.Version != "6.x" || chart.Spec.SourceRef.Kind != sourcev1.HelmRepositoryKind || chart.Spec.SourceRef.Name != "charts" {
		t.Errorf("spec: %+v", chart.Spec)
	}

	// A new version: reconcile --with-source downloads the index first,
	// then pulls it.
	srv.Add(t, helmserver.Chart{Name: "podinfo", Version: "6.1.0", Values: "greeting: hello\n"})
	r = kgotk(t, "", "reconcile", "source", "chart", "podinfo", "--with-source", "-n", ns)
	repoAt := strings.Index(r.stderr, "► annotating HelmRepository "+ns+"/charts for reconciliation\n")
	chartAt := strings.Index(r.stderr, "► annotating HelmChart "+ns+"/podinfo for reconciliation\n")
	if r.code != 0 || repoAt < 0 || chartAt < repoAt || !strings.HasSuffix(r.stderr, "✔ fetched revision 6.1.0\n") {
		t.Fatalf("reconcile source chart --with-source:\n%s", r)
	}

	// get lists both, with what they fetched.
	r = kgotk(t, "", "get", "sources", "chart", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "podinfo") || !strings.Contains(r.stdout, "6.1.0") {
		t.Errorf("get sources chart:\n%s", r)
	}
	r = kgotk(t, "", "get", "all", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "helmrepository/charts") || !strings.Contains(r.stdout, "helmchart/podinfo") {
		t.Errorf("get all:\n%s", r)
	}

	// Values files: a new spec, a new artifact with the generation.
	r = kgotk(t, "", "create", "source", "chart", "podinfo", "--source=HelmRepository/charts", "--chart=podinfo", "--chart-version=6.0.x",
		"--values-files=values.yaml,values-prod.yaml", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ HelmChart "+ns+"/podinfo configured\n") || !strings.Contains(r.stderr, "✔ fetched revision 6.0.0+2\n") {
		t.Fatalf("create source chart with values files:\n%s", r)
	}

	// Suspended: reconcile refuses, resume waits for the result.
	for _, kind := range []string{"helm charts", "chart podinfo"} {
		args := strings.Fields(kind)
		r = kgotk(t, "", "suspend", "source", args[0], args[1], "-n", ns)
		if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/"+args[1]+" suspended") {
			t.Fatalf("suspend source %s:\n%s", kind, r)
		}
		r = kgotk(t, "", "reconcile", "source", args[0], args[1], "-n", ns)
		if r.code == 0 || !strings.Contains(r.stderr, "is suspended, run gotk resume first: gotk resume source "+kind+" -n "+ns) {
			t.Fatalf("reconcile of a suspended %s must fail:\n%s", kind, r)
		}
		r = kgotk(t, "", "resume", "source", args[0], args[1], "-n", ns)
		if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/"+args[1]+" resumed") || !strings.Contains(r.stderr, "✔ fetched revision ") {
			t.Fatalf("resume source %s:\n%s", kind, r)
		}
	}

	// export prints what create applied, and the API server takes it.
	for _, args := range [][]string{{"export", "source", "helm", "charts"}, {"export", "source", "chart", "--all"}} {
		r = kgotk(t, "", append(args, "-n", ns)...)
		if r.code != 0 {
			t.Fatalf("%v:\n%s", args, r)
		}
		objs := decodeYAML(t, r.stdout)
		if len(objs) != 1 || objs[0].Object["status"] != nil {
			t.Fatalf("%v: %s", args, r.stdout)
		}
		if err := install.ApplyObject(ctx, e.Client, objs[0], client.DryRunAll); err != nil {
			t.Errorf("the API server refused %v: %v", args, err)
		}
	}

	// delete, without a question.
	for _, kind := range []string{"chart podinfo", "helm charts"} {
		args := strings.Fields(kind)
		r = kgotk(t, "", "delete", "source", args[0], args[1], "--silent", "-n", ns)
		if r.code != 0 || !strings.Contains(r.stderr, " "+ns+"/"+args[1]+" deleted") {
			t.Fatalf("delete source %s:\n%s", kind, r)
		}
	}
	eventually(t, "the HelmChart is gone", func() bool {
		return apierrors.IsNotFound(e.Client.Get(ctx, key, &sourcev1.HelmChart{}))
	}, func() string { return "still there" })

	// Wrong credentials: the Ready message, without the password.
	r = kgotk(t, "", "create", "secret", "helm", "wrong", "--username=bot", "--password=nope", "-n", ns)
	if r.code != 0 {
		t.Fatal(r)
	}
	r = kgotk(t, "", "create", "source", "helm", "denied", "--url="+srv.URL, "--secret-ref=wrong", "--cert-secret-ref=charts-auth", "-n", ns, "--timeout=2m")
	if r.code == 0 || !strings.Contains(r.stderr, "✗ HelmRepository "+ns+"/denied reconciliation failed: ") || strings.Contains(r.stderr, "nope") {
		t.Fatalf("bad credentials must fail create, without printing them:\n%s", r)
	}
}

// An oci:// URL makes a HelmRepository of type oci, which is Ready once the
// registry answers and has no artifact.
func TestCreateSourceHelmOCI(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 3*time.Minute)
	ns := e.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	url := "oci://" + reg.Host + "/charts"
	r := kgotk(t, "", "create", "source", "helm", "oci", "--url="+url, "--insecure", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ HelmRepository reconciled\n") || !strings.Contains(r.stderr, "✔ registry "+url+" answered\n") ||
		strings.Contains(r.stderr, "fetched revision") {
		t.Fatalf("create source helm with an oci:// URL:\n%s", r)
	}
	repo := &sourcev1.HelmRepository{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "oci"}, repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.Type != sourcev1.HelmRepositoryTypeOCI || !repo.Spec.Insecure || repo.Spec.URL != url {
		t.Errorf("spec: %+v", repo.Spec)
	}
	// reconcile works on it too, and prints no revision.
	r = kgotk(t, "", "reconcile", "source", "helm", "oci", "-n", ns)
	if r.code != 0 || strings.Contains(r.stderr, "fetched revision") {
		t.Fatalf("reconcile source helm oci:\n%s", r)
	}
}

// create source chart --source=GitRepository/NAME builds the chart at the
// path in the repository and prints its revision; get all lists both.
func TestCreateSourceChartFromGitRepository(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	srv := gitserver.StartHTTP(t, t.TempDir(), gitserver.HTTPOptions{})
	w := gitserver.MustSeed(t, srv.Root, "charts.git", map[string]string{
		"charts/app/Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"charts/app/values.yaml":      "greeting: hello\n",
		"charts/app/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
	})
	head := gitserver.Must[string](t)(w.Head())
	r := kgotk(t, "", "create", "source", "git", "charts", "--url="+srv.RepoURL("charts.git"), "--branch=main", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create source git:\n%s", r)
	}
	r = kgotk(t, "", "create", "source", "chart", "app", "--source=GitRepository/charts", "--chart=charts/app",
		"--reconcile-strategy=Revision", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ fetched revision 0.1.0+"+head[:12]+"\n") {
		t.Fatalf("create source chart from a GitRepository:\n%s", r)
	}
	r = kgotk(t, "", "get", "all", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "gitrepository/charts") || !strings.Contains(r.stdout, "helmchart/app") {
		t.Errorf("get all:\n%s", r)
	}
}
