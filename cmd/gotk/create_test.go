package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// A private repository over HTTP: create secret git, create source git
// (which waits for the real reconciler to fetch), create again with a
// change, a new commit fetched by reconcile, suspend, a refused reconcile,
// and resume.
func TestCreateSourceGitWithRealController(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, "podinfo.git", map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\n"})
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{Username: "bot", Password: "s3cret-pass"})
	url := srv.RepoURL("podinfo.git")
	head := gitserver.Must[string](t)(w.Head())

	r := kgotk(t, "", "create", "secret", "git", "podinfo-auth", "--url="+url, "--username=bot", "--password=s3cret-pass", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Secret "+ns+"/podinfo-auth created with keys password, username") {
		t.Fatalf("create secret git:\n%s", r)
	}
	if strings.Contains(r.String(), "s3cret-pass") {
		t.Errorf("the password was printed:\n%s", r)
	}
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-auth"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["username"]) != "bot" || string(secret.Data["password"]) != "s3cret-pass" || len(secret.Data) != 2 {
		t.Errorf("secret data: %v", secret.Data)
	}

	r = kgotk(t, "", "create", "source", "git", "podinfo", "--url="+url, "--branch=main", "--secret-ref=podinfo-auth", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("create source git:\n%s", r)
	}
	for _, want := range []string{
		"► applying GitRepository " + ns + "/podinfo\n",
		"✔ GitRepository " + ns + "/podinfo created\n",
		"◎ waiting for GitRepository reconciliation\n",
		"✔ GitRepository reconciled\n",
		"✔ fetched revision main@sha1:" + head + "\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("create source git output lacks %q:\n%s", want, r)
		}
	}
	repo := &sourcev1.GitRepository{}
	key := client.ObjectKey{Namespace: ns, Name: "podinfo"}
	if err := e.Client.Get(ctx, key, repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.URL != url || repo.Spec.Reference.Branch != "main" || repo.Spec.SecretRef.Name != "podinfo-auth" || repo.Spec.Interval.Duration != time.Minute {
		t.Errorf("spec: %+v", repo.Spec)
	}
	if !appliedBy(repo.ManagedFields, install.FieldManager) {
		t.Errorf("not applied by the field manager gotk: %+v", repo.ManagedFields)
	}

	// Again, with ignore paths: an update in place.
	r = kgotk(t, "", "create", "source", "git", "podinfo", "--url="+url, "--branch=main", "--secret-ref=podinfo-auth",
		"--ignore-paths=docs/,*.md", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ GitRepository "+ns+"/podinfo configured\n") {
		t.Fatalf("second create:\n%s", r)
	}
	if err := e.Client.Get(ctx, key, repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.Ignore == nil || *repo.Spec.Ignore != "docs/\n*.md\n" {
		t.Errorf("spec.ignore: %v", repo.Spec.Ignore)
	}

	// A new commit shows up after reconcile.
	next := gitserver.Must[string](t)(w.CommitFiles("second", map[string]string{"deploy/other.yaml": "kind: ConfigMap\n"}))
	gitserver.NoErr(t, w.Push("origin", "main"))
	r = kgotk(t, "", "reconcile", "source", "git", "podinfo", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "► annotating GitRepository "+ns+"/podinfo for reconciliation\n") ||
		!strings.Contains(r.stderr, "✔ fetched revision main@sha1:"+next+"\n") {
		t.Fatalf("reconcile:\n%s", r)
	}
	if err := e.Client.Get(ctx, key, repo); err != nil {
		t.Fatal(err)
	}
	token := repo.Annotations[meta.ReconcileRequestAnnotation]
	if _, err := time.Parse(time.RFC3339Nano, token); err != nil || repo.Status.LastHandledReconcileAt != token {
		t.Errorf("requestedAt %q, lastHandledReconcileAt %q", token, repo.Status.LastHandledReconcileAt)
	}

	// Suspended: reconcile refuses, resume waits for the result.
	r = kgotk(t, "", "suspend", "source", "git", "podinfo", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ GitRepository "+ns+"/podinfo suspended") {
		t.Fatalf("suspend:\n%s", r)
	}
	r = kgotk(t, "", "reconcile", "source", "git", "podinfo", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "is suspended, run gotk resume first: gotk resume source git podinfo -n "+ns) {
		t.Fatalf("reconcile of a suspended source must fail:\n%s", r)
	}
	r = kgotk(t, "", "resume", "source", "git", "podinfo", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ GitRepository "+ns+"/podinfo resumed") || !strings.Contains(r.stderr, "✔ fetched revision main@sha1:"+next) {
		t.Fatalf("resume:\n%s", r)
	}
	if err := e.Client.Get(ctx, key, repo); err != nil || repo.Spec.Suspend {
		t.Fatalf("after resume: suspend=%v, %v", repo.Spec.Suspend, err)
	}

	// A repository that does not exist: the Ready message, exit 1.
	r = kgotk(t, "", "create", "source", "git", "missing", "--url="+srv.RepoURL("missing.git"), "--branch=main",
		"--secret-ref=podinfo-auth", "-n", ns, "--timeout=2m")
	if r.code == 0 || !strings.Contains(r.stderr, "✗ GitRepository "+ns+"/missing reconciliation failed: ") {
		t.Fatalf("a failing source must fail create:\n%s", r)
	}
	// Wrong credentials: the same, with the reason the controller gives.
	r = kgotk(t, "", "create", "secret", "git", "wrong", "--url="+url, "--username=bot", "--password=nope", "-n", ns)
	if r.code != 0 {
		t.Fatal(r)
	}
	r = kgotk(t, "", "create", "source", "git", "denied", "--url="+url, "--branch=main", "--secret-ref=wrong", "-n", ns, "--timeout=2m")
	if r.code == 0 || !strings.Contains(r.stderr, "reconciliation failed") || strings.Contains(r.stderr, "nope") {
		t.Fatalf("bad credentials must fail create, without printing them:\n%s", r)
	}
}

func appliedBy(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// Over SSH: create secret git scans the host key and stores the key
// pair; the real reconciler fetches with them. An encrypted key needs
// its passphrase, and a new key is made when none is given.
func TestCreateSecretGitSSH(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	dir := t.TempDir()
	key := gitserver.Must[*gitserver.SSHKey](t)(gitserver.NewSSHKey(dir))
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, "org/app.git", map[string]string{"app.yaml": "kind: ConfigMap\n"})
	srv := gitserver.StartSSH(t, root, gitserver.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	url := srv.RepoURL("org/app.git")

	r := kgotk(t, "", "create", "secret", "git", "app-ssh", "--url="+url, "--private-key-file="+key.Path, "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "✔ Secret "+ns+"/app-ssh created with keys identity, identity.pub, known_hosts") ||
		!strings.Contains(r.stderr, "✔ scanned the host key of "+srv.Addr+": ssh-ed25519 SHA256:") {
		t.Fatalf("create secret git over ssh:\n%s", r)
	}
	if strings.Contains(r.String(), "PRIVATE KEY") {
		t.Errorf("the private key was printed:\n%s", r)
	}
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-ssh"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["identity"]) != string(key.PrivatePEM) ||
		strings.TrimSpace(string(secret.Data["identity.pub"])) != string(key.AuthorizedKey) ||
		string(secret.Data["known_hosts"]) != string(srv.KnownHosts()) {
		t.Errorf("secret data: identity.pub %q, known_hosts %q (want %q)", secret.Data["identity.pub"], secret.Data["known_hosts"], srv.KnownHosts())
	}
	head := gitserver.Must[string](t)(w.Head())
	r = kgotk(t, "", "create", "source", "git", "app", "--url="+url, "--branch=main", "--secret-ref=app-ssh", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ fetched revision main@sha1:"+head) {
		t.Fatalf("create source git over ssh:\n%s", r)
	}

	// An encrypted key: the passphrase goes with it.
	enc := filepath.Join(dir, "encrypted")
	gitserver.NoErr(t, os.WriteFile(enc, gitserver.Must[[]byte](t)(key.EncryptedPEM("passphrase")), 0o600))
	r = kgotk(t, "", "create", "secret", "git", "enc", "--url="+url, "--private-key-file="+enc, "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "is encrypted: give its passphrase with --password") {
		t.Fatalf("an encrypted key without --password:\n%s", r)
	}
	r = kgotk(t, "", "create", "secret", "git", "enc", "--url="+url, "--private-key-file="+enc, "--password=wrong", "-n", ns)
	if r.code == 0 || !strings.Contains(r.stderr, "--password does not decrypt the key") || strings.Contains(r.stderr, "wrong") {
		t.Fatalf("a wrong passphrase:\n%s", r)
	}
	r = kgotk(t, "", "create", "secret", "git", "enc", "--url="+url, "--private-key-file="+enc, "--password=passphrase", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "with keys identity, identity.pub, known_hosts, password") || strings.Contains(r.stderr, "passphrase\n") {
		t.Fatalf("an encrypted key with its passphrase:\n%s", r)
	}
	r = kgotk(t, "", "create", "source", "git", "app-enc", "--url="+url, "--branch=main", "--secret-ref=enc", "-n", ns, "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("fetch with an encrypted key:\n%s", r)
	}

	// No key: a new one, whose public half is printed as the deploy key.
	r = kgotk(t, "", "create", "secret", "git", "new", "--url="+url, "-n", ns, "--export")
	if r.code != 0 || !strings.Contains(r.stderr, "deploy key") || !strings.Contains(r.stderr, "ssh-ed25519 AAAA") {
		t.Fatalf("create secret git with a new key:\n%s", r)
	}
	objs := decodeYAML(t, r.stdout)
	if len(objs) != 1 || objs[0].GetKind() != "Secret" || objs[0].GetNamespace() != ns {
		t.Fatalf("export: %s", r.stdout)
	}
	data, _, _ := unstructured.NestedMap(objs[0].Object, "data")
	for _, k := range []string{"identity", "identity.pub", "known_hosts"} {
		if data[k] == nil {
			t.Errorf("exported secret lacks %s: %v", k, data)
		}
	}
	if err := install.ApplyObject(ctx, e.Client, objs[0], client.DryRunAll); err != nil {
		t.Errorf("the API server refused the exported Secret: %v", err)
	}
}

// Without -n, create source git and create kustomization land in the
// kubeconfig context's namespace, or gotk-system when it sets none, and
// the Kustomization finds its source there.
func TestCreateDefaultNamespace(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 2*time.Minute)
	ns := e.Namespace(t)
	kc := contextKubeconfig(t, ns)
	r := kgotkWith(t, kc, "", "create", "source", "git", "ctx-repo", "--url=https://example.com/repo.git", "--branch=main", "--label="+unmanagedLabel+"=true", "--timeout=1s")
	if !strings.Contains(r.stderr, "✔ GitRepository "+ns+"/ctx-repo created") {
		t.Fatalf("create source git without -n:\n%s", r)
	}
	r = kgotkWith(t, kc, "", "create", "kustomization", "ctx-ks", "--source=ctx-repo", "--path=./deploy", "--prune", "--timeout=1s")
	if !strings.Contains(r.stderr, "✔ Kustomization "+ns+"/ctx-ks created") || strings.Contains(r.stderr, "not found") {
		t.Fatalf("create kustomization without -n must find the source:\n%s", r)
	}
	ks := &kustomizev1.Kustomization{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ctx-ks"}, ks); err != nil || ks.GetSourceNamespace() != ns {
		t.Fatalf("kustomization: %v %+v", err, ks.Spec.SourceRef)
	}
	// -n wins over the context.
	other := e.Namespace(t)
	r = kgotkWith(t, kc, "", "create", "source", "git", "n-repo", "--url=https://example.com/repo.git", "--branch=main", "--label="+unmanagedLabel+"=true", "--timeout=1s", "-n", other)
	if !strings.Contains(r.stderr, "✔ GitRepository "+other+"/n-repo created") {
		t.Fatalf("-n:\n%s", r)
	}
	// No namespace in the context: gotk-system.
	fixedNamespace(t, install.DefaultNamespace)
	r = kgotk(t, "", "create", "source", "git", "default-ns-repo", "--url=https://example.com/repo.git", "--branch=main", "--label="+unmanagedLabel+"=true", "--timeout=1s")
	if !strings.Contains(r.stderr, "✔ GitRepository gotk-system/default-ns-repo created") {
		t.Fatalf("default namespace:\n%s", r)
	}
	// The wait timed out (no controller reconciles these), and said so.
	if r.code == 0 || !strings.Contains(r.stderr, "timed out after 1s waiting for GitRepository gotk-system/default-ns-repo to be Ready") {
		t.Errorf("a wait that times out must fail and say so:\n%s", r)
	}
	_ = e.Client.Delete(ctx, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "gotk-system", Name: "default-ns-repo"}})
}

// The flags are checked before anything is applied.
func TestCreateRejectsBadFlags(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	gitserver.NoErr(t, os.WriteFile(key, []byte("not a key"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "source", "git", "x", "--branch=main"}, "--url is required"},
		{[]string{"create", "source", "git", "x", "--url=ftp://h/r", "--branch=main"}, `scheme "ftp" is not supported`},
		{[]string{"create", "source", "git", "x", "--url=https://u:p@h/r", "--branch=main"}, "--url must not carry a password"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r"}, "a Git reference is required"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--tag=b"}, "use only one Git reference"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--ref-name=main"}, "must be a full reference starting with refs/"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--verify-provider=cosign", "--verify-secret-ref=k"}, `--verify-provider "cosign" is not supported: use openpgp or ssh`},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--verify-provider=ssh"}, "need --verify-secret-ref"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--verify-mode=Tag", "--verify-secret-ref=k"}, "--verify-mode=Tag verifies a tag"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--verify-mode=All", "--verify-secret-ref=k"}, "use HEAD, Tag or TagAndHEAD"},
		{[]string{"create", "source", "git", "Bad_Name", "--url=https://h/r", "--branch=a"}, "is not a valid GitRepository name"},
		{[]string{"create", "source", "git", "x", "--url=https://h/r", "--branch=a", "--label=nope"}, "use key=value"},
		{[]string{"create", "kustomization", "x", "--path=./a"}, "--source is required"},
		{[]string{"create", "kustomization", "x", "--source=HelmRepository/a"}, "cannot be built by a Kustomization"},
		{[]string{"create", "kustomization", "x", "--source=a", "--path=../up"}, "leaves the source's root"},
		{[]string{"create", "kustomization", "x", "--source=a", "--path=/abs"}, "must be relative"},
		{[]string{"create", "kustomization", "x", "--source=a", "--substitute=1x=a"}, "--substitute \"1x=a\": use key=value"},
		{[]string{"create", "kustomization", "x", "--source=a", "--health-check=Deployment"}, "use Kind/name.namespace"},
		{[]string{"create", "kustomization", "x", "--source=a", "--depends-on=a/b/c"}, "use [namespace/]name"},
		{[]string{"create", "secret", "git", "x", "--url=https://h/r"}, "no credentials given"},
		{[]string{"create", "secret", "git", "x", "--url=https://h/r", "--username=u"}, "--username and --password go together"},
		{[]string{"create", "secret", "git", "x", "--url=https://h/r", "--username=u", "--password=p", "--bearer-token=t"}, "not both"},
		{[]string{"create", "secret", "git", "x", "--url=https://h/r", "--private-key-file=" + key}, "--private-key-file is for ssh:// URLs"},
		{[]string{"create", "secret", "git", "x", "--url=ssh://git@127.0.0.1:1/r", "--bearer-token=t"}, "an ssh:// URL authenticates with a key"},
		{[]string{"create", "secret", "git", "x", "--url=ssh://git@127.0.0.1:1/r", "--private-key-file=" + key}, "holds no private key"},
		{[]string{"create", "secret", "git", "x", "--url=https://h/r", "--ca-file=" + key}, "holds no PEM certificate"},
		{[]string{"create", "secret", "git", "x", "--url=ssh://git@127.0.0.1:1/r", "--export"}, "scan the SSH host key of 127.0.0.1:1"},
		{[]string{"create", "source", "helm", "x"}, "--url is required"},
		{[]string{"create", "source", "helm", "x", "--url=charts.example.com"}, `--url "charts.example.com" is not a URL with a host`},
		{[]string{"create", "source", "helm", "x", "--url=ssh://h/charts"}, `scheme "ssh" is not supported; use https://, http:// or oci://`},
		{[]string{"create", "source", "helm", "x", "--url=https://u:p@h/charts"}, "--url must not carry a password: put credentials in a Secret (gotk create secret helm)"},
		{[]string{"create", "source", "helm", "x", "--url=https://h/charts", "--insecure"}, "--insecure is for oci:// URLs"},
		{[]string{"create", "source", "helm", "x", "--url=https://h/charts", "--interval=0s"}, "--interval must be positive"},
		{[]string{"create", "source", "chart", "x", "--chart=podinfo"}, "--source is required"},
		{[]string{"create", "source", "chart", "x", "--source=Foo/bar", "--chart=podinfo"}, `--source "Foo/bar": kind "Foo" cannot hold a chart: use HelmRepository, GitRepository or Bucket`},
		{[]string{"create", "source", "chart", "x", "--source=Kustomization/bar", "--chart=podinfo"}, `kind "Kustomization" cannot hold a chart`},
		{[]string{"create", "source", "chart", "x", "--source=bar", "--chart=podinfo"}, `--source "bar": use Kind/name`},
		{[]string{"create", "source", "chart", "x", "--source=HelmRepository/Bad_Name", "--chart=podinfo"}, `--source "HelmRepository/Bad_Name"`},
		{[]string{"create", "source", "chart", "x", "--source=HelmRepository/bar"}, "--chart is required"},
		{[]string{"create", "source", "chart", "x", "--source=HelmRepository/bar", "--chart=p", "--reconcile-strategy=Always"}, `--reconcile-strategy "Always" is not supported: use ChartVersion or Revision`},
		{[]string{"create", "secret", "helm", "x"}, "no credentials given"},
		{[]string{"create", "secret", "helm", "x", "--password=p"}, "--username and --password go together"},
		{[]string{"create", "secret", "helm", "x", "--ca-file=" + key}, "--ca-file " + key + " holds no PEM certificate"},
		{[]string{"create", "secret", "helm", "x", "--cert-file=" + key}, "--cert-file and --key-file go together"},
		{[]string{"create", "secret", "helm", "x", "--cert-file=" + key, "--key-file=" + key}, "are not a PEM certificate and its private key"},
		{[]string{"create", "secret", "helm", "x", "--ca-file=/nonexistent/ca.crt"}, "--ca-file: open /nonexistent/ca.crt"},
	} {
		r := kgotk(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: want a failure mentioning %q, got\n%s", tc.args, tc.want, r)
		}
	}
	// On the control plane without gotk's CRDs, the advice is to install.
	for _, args := range [][]string{
		{"create", "source", "git", "x", "--url=https://h/r", "--branch=main", "-n", "default"},
		{"get", "kustomizations", "-n", "default"},
	} {
		r := gotk(t, "", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "install gotk first (gotk install)") {
			t.Errorf("%v without CRDs:\n%s", args, r)
		}
	}
}

// --verify-provider reads the Secret before applying.
func TestCreateSourceGitVerifyProvider(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	ns := e.Namespace(t)
	key := gitserver.Must[*gitserver.SSHKey](t)(gitserver.NewSSHKey(t.TempDir()))
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ssh-keys"}, Data: map[string][]byte{"author": key.AuthorizedKey}}
	if err := e.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	base := []string{"create", "source", "git", "signed", "--url=https://example.com/r.git", "--tag=v1", "-n", ns, "--label=" + unmanagedLabel + "=true", "--timeout=1s"}
	r := kgotk(t, "", append(base, "--verify-provider=openpgp", "--verify-secret-ref=ssh-keys")...)
	if r.code == 0 || !strings.Contains(r.stderr, "holds no armored OpenPGP public key") {
		t.Fatalf("an SSH key for openpgp:\n%s", r)
	}
	r = kgotk(t, "", append(base, "--verify-provider=ssh", "--verify-secret-ref=ssh-keys", "--verify-mode=TagAndHEAD")...)
	if !strings.Contains(r.stderr, "✔ GitRepository "+ns+"/signed created") {
		t.Fatalf("an SSH key for ssh:\n%s", r)
	}
	repo := &sourcev1.GitRepository{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "signed"}, repo); err != nil {
		t.Fatal(err)
	}
	if v := repo.Spec.Verification; v == nil || v.Mode != sourcev1.ModeGitTagAndHEAD || v.SecretRef.Name != "ssh-keys" {
		t.Errorf("spec.verify: %+v", repo.Spec.Verification)
	}
	r = kgotk(t, "", append(base[:len(base)-1], "--verify-provider=ssh", "--verify-secret-ref=later", "--export")...)
	if r.code != 0 || !strings.Contains(r.stdout, "  verify:\n    mode: HEAD\n    secretRef:\n      name: later\n") {
		t.Fatalf("export with verification:\n%s", r)
	}
}
