package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/localcluster"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// bootstrapCluster is a local control plane with a scheduler, a
// controller manager and a kwok node, so that the Deployments bootstrap
// installs become Available as on a real cluster. The pods kwok runs are
// simulated, so the source and kustomize controllers run in this process,
// wired as gotk-controller wires them.
func bootstrapCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	testenv.Require(t)
	dir := t.TempDir()
	c, err := localcluster.Start(ctxFor(t, 3*time.Minute), localcluster.Options{Dir: dir})
	if err != nil {
		t.Fatalf("start the local control plane: %v", err)
	}
	t.Cleanup(c.Stop)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	opts := runtime.DefaultOptions()
	opts.StoragePath = filepath.Join(dir, "storage")
	opts.StorageAddr, opts.StorageAdvAddr = addr, addr
	cacheOpts, err := opts.CacheOptions("")
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(c.Config, ctrl.Options{Scheme: c.Scheme, Logger: ctrl.Log.WithName("bootstrap-test"),
		Cache: cacheOpts, Client: runtime.ClientOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// The two tests each run the controllers, in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	deps := controller.Deps{
		Options:  opts,
		Recorder: runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), c.Scheme, runtime.RecorderOptions{}),
		Metrics:  runtime.DefaultMetrics,
	}
	if err := source.Setup(mgr, deps); err != nil {
		t.Fatal(err)
	}
	if err := kustomization.Setup(mgr, deps); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// repoFile reads a file from a fresh clone of the branch.
func repoFile(t *testing.T, bare, name string) (string, bool) {
	t.Helper()
	w := gs.Must[*gs.WorkTree](t)(gs.CloneWorkTree(bare, filepath.Join(t.TempDir(), "clone")))
	data, err := os.ReadFile(filepath.Join(w.Dir, name))
	if err != nil {
		return "", false
	}
	return string(data), true
}

func commitCount(t *testing.T, bare string) int {
	t.Helper()
	w := gs.Must[*gs.WorkTree](t)(gs.CloneWorkTree(bare, filepath.Join(t.TempDir(), "count")))
	out := gs.Must[string](t)(w.Git("rev-list", "--count", "HEAD"))
	var n int
	fmt.Sscan(strings.TrimSpace(out), &n)
	return n
}

// checkSynced asserts that the bootstrap Kustomization applied the
// branch's head, and that it manages the controllers.
func checkSynced(t *testing.T, c *localcluster.Cluster, bare string) {
	t.Helper()
	w := gs.Must[*gs.WorkTree](t)(gs.CloneWorkTree(bare, filepath.Join(t.TempDir(), "head")))
	head := gs.Must[string](t)(w.Head())
	ks := &kustomizev1.Kustomization{}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "gotk-system", Name: "gotk-system"}, ks); err != nil {
		t.Fatal(err)
	}
	if want := "main@sha1:" + head; ks.Status.LastAppliedRevision != want {
		t.Fatalf("Kustomization applied %q, want the branch head %q", ks.Status.LastAppliedRevision, want)
	}
	ready := false
	for _, cond := range ks.Status.Conditions {
		if cond.Type == meta.ReadyCondition && cond.Status == "True" {
			ready = true
		}
	}
	if !ready {
		t.Fatalf("Kustomization not Ready: %+v", ks.Status.Conditions)
	}
	inv := map[string]bool{}
	if ks.Status.Inventory != nil {
		for _, e := range ks.Status.Inventory.Entries {
			inv[e.ID] = true
		}
	}
	for _, id := range []string{
		"gotk-system_source-controller_apps_Deployment",
		"gotk-system_kustomize-controller_apps_Deployment",
		"gotk-system_gotk-system_source.toolkit.fluxcd.io_GitRepository",
		"gotk-system_gotk-system_kustomize.toolkit.fluxcd.io_Kustomization",
		"_gitrepositories.source.toolkit.fluxcd.io_apiextensions.k8s.io_CustomResourceDefinition",
	} {
		if !inv[id] {
			t.Errorf("the bootstrap Kustomization does not manage %s; inventory: %v", id, inv)
		}
	}
}

// Bootstrap over HTTP with basic auth into an empty repository; a change
// pushed to the repository reaches the cluster with gotk reconcile; a
// second bootstrap commits nothing; one with other install flags upgrades
// Git and the cluster and keeps the user's kustomization.yaml.
func TestBootstrapGitHTTP(t *testing.T) {
	c := bootstrapCluster(t)
	kc := c.Kubeconfig
	root := t.TempDir()
	bare := gs.Must[string](t)(gs.InitBare(root, "fleet.git"))
	srv := gs.StartHTTP(t, root, gs.HTTPOptions{Username: "fleet-bot", Password: "pw-4fj38dk2"})
	args := []string{"bootstrap", "git", "--url=" + srv.RepoURL("fleet.git"), "--branch=main", "--path=clusters/dev",
		"--username=fleet-bot", "--password=pw-4fj38dk2", "--components=source,kustomize", "--timeout=3m"}

	r := kgotkWith(t, kc, "", args...)
	if r.code != 0 {
		t.Fatalf("bootstrap failed:\n%s", r)
	}
	for _, want := range []string{
		"branch main does not exist yet",
		`committed "Add gotk ` + install.DefaultVersion() + ` manifests in clusters/dev/gotk-system"`,
		"pushed main@sha1:",
		"gotk is installed in namespace gotk-system",
		"Secret gotk-system/gotk-system created with keys password, username",
		"GitRepository gotk-system/gotk-system created",
		"Kustomization gotk-system/gotk-system created",
		"bootstrap finished: the cluster syncs " + srv.RepoURL("fleet.git") + " (branch main, path ./clusters/dev)",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("bootstrap output lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "pw-4fj38dk2") {
		t.Fatalf("bootstrap printed the password:\n%s", r)
	}
	components, ok := repoFile(t, bare, "clusters/dev/gotk-system/gotk-components.yaml")
	if !ok || !strings.Contains(components, "name: kustomize-controller") || strings.Contains(components, "name: helm-controller") {
		t.Fatalf("gotk-components.yaml does not hold the chosen components:\n%.400s", components)
	}
	sync, _ := repoFile(t, bare, "clusters/dev/gotk-system/gotk-sync.yaml")
	for _, want := range []string{"kind: GitRepository", "url: " + srv.RepoURL("fleet.git"), "branch: main", "name: gotk-system", "path: ./clusters/dev", "prune: true"} {
		if !strings.Contains(sync, want) {
			t.Errorf("gotk-sync.yaml lacks %q:\n%s", want, sync)
		}
	}
	if strings.Contains(sync+components, "pw-4fj38dk2") {
		t.Fatal("a secret was committed to Git")
	}
	checkSynced(t, c, bare)

	// A namespace pushed to the synced path shows up after reconcile.
	w := gs.Must[*gs.WorkTree](t)(gs.CloneWorkTree(bare, filepath.Join(t.TempDir(), "user")))
	gs.Must[string](t)(w.CommitFiles("add a namespace", map[string]string{
		"clusters/dev/team-a.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
	}))
	gs.NoErr(t, w.Push("origin", "main"))
	r = kgotkWith(t, kc, "", "reconcile", "kustomization", "gotk-system", "--with-source", "-n", "gotk-system")
	if r.code != 0 {
		t.Fatalf("reconcile after the push:\n%s", r)
	}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Name: "team-a"}, &corev1.Namespace{}); err != nil {
		t.Fatalf("the pushed namespace is not in the cluster: %v", err)
	}
	checkSynced(t, c, bare)

	// Again with the same flags: nothing to commit, still in sync.
	before := commitCount(t, bare)
	r = kgotkWith(t, kc, "", args...)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to commit") || !strings.Contains(r.stderr, "Secret gotk-system/gotk-system configured") {
		t.Fatalf("second bootstrap:\n%s", r)
	}
	if after := commitCount(t, bare); after != before {
		t.Fatalf("an idempotent bootstrap made %d commits", after-before)
	}
	checkSynced(t, c, bare)

	// The user customizes kustomization.yaml; an upgrade (another log
	// level here) rewrites the components and keeps it.
	custom := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\ncommonAnnotations:\n  team: platform\n"
	gs.Must[string](t)(w.Git("pull", "--quiet", "origin", "main"))
	gs.Must[string](t)(w.CommitFiles("customize", map[string]string{"clusters/dev/gotk-system/kustomization.yaml": custom}))
	gs.NoErr(t, w.Push("origin", "main"))
	r = kgotkWith(t, kc, "", append(args, "--log-level=debug")...)
	if r.code != 0 || !strings.Contains(r.stderr, `committed "Update gotk`) {
		t.Fatalf("upgrading bootstrap:\n%s", r)
	}
	if got, _ := repoFile(t, bare, "clusters/dev/gotk-system/kustomization.yaml"); got != custom {
		t.Fatalf("bootstrap overwrote the user's kustomization.yaml:\n%s", got)
	}
	checkSynced(t, c, bare)
	dep := &appsv1.Deployment{}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "gotk-system", Name: "kustomize-controller"}, dep); err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--log-level=debug") {
		t.Errorf("the upgrade did not reach the cluster: args %s", args)
	}
	if dep.Annotations["team"] != "platform" {
		t.Errorf("the user's kustomization.yaml was not applied: annotations %v", dep.Annotations)
	}
}

// Bootstrap over SSH into a repository with history: the Secret holds the
// key and the scanned host key, and the cluster syncs over SSH.
func TestBootstrapGitSSH(t *testing.T) {
	c := bootstrapCluster(t)
	root := t.TempDir()
	gs.MustSeed(t, root, "fleet.git", map[string]string{"README.md": "fleet\n"})
	bare := filepath.Join(root, "fleet.git")
	key := gs.Must[*gs.SSHKey](t)(gs.NewSSHKey(t.TempDir()))
	srv := gs.StartSSH(t, root, gs.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	keyFile := filepath.Join(t.TempDir(), "id")
	gs.NoErr(t, os.WriteFile(keyFile, key.PrivatePEM, 0o600))

	r := kgotkWith(t, c.Kubeconfig, "", "bootstrap", "git", "--url="+srv.RepoURL("fleet.git"), "--path=./clusters/prod",
		"--private-key-file="+keyFile, "--components=source,kustomize", "--timeout=3m")
	if r.code != 0 {
		t.Fatalf("bootstrap over SSH failed:\n%s", r)
	}
	for _, want := range []string{"scanned the host key of", "cloned main@sha1:", "Secret gotk-system/gotk-system created with keys identity, identity.pub, known_hosts"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if readme, _ := repoFile(t, bare, "README.md"); readme != "fleet\n" {
		t.Fatalf("bootstrap lost the repository's files: README.md = %q", readme)
	}
	checkSynced(t, c, bare)

	// Without --private-key-file, the key the Secret holds is used again.
	r = kgotkWith(t, c.Kubeconfig, "", "bootstrap", "git", "--url="+srv.RepoURL("fleet.git"), "--path=./clusters/prod",
		"--components=source,kustomize", "--timeout=3m")
	if r.code != 0 || !strings.Contains(r.stderr, "using the SSH key of Secret gotk-system/gotk-system again") ||
		!strings.Contains(r.stderr, "nothing to commit") || strings.Contains(r.stderr, "[y/N]") {
		t.Fatalf("a second bootstrap without a key file must reuse the Secret's key:\n%s", r)
	}

	// With a Secret that does not exist yet and no key file, a new key is
	// made and offered as a deploy key: declined, nothing happens.
	fresh := []string{"bootstrap", "git", "--url=" + srv.RepoURL("fleet.git"), "--path=./clusters/prod",
		"--components=source,kustomize", "--timeout=3m", "--secret-name=fresh", "--kubeconfig=" + c.Kubeconfig}
	before := commitCount(t, bare)
	var out, errOut bytes.Buffer
	if code := run(fresh, strings.NewReader("n\n"), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "cancelled: nothing was pushed or installed") {
		t.Fatalf("a declined deploy key must stop bootstrap: exit %d\n%s", code, errOut.String())
	}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "gotk-system", Name: "fresh"}, &corev1.Secret{}); err == nil {
		t.Fatal("a declined bootstrap created the Secret")
	}
	if commitCount(t, bare) != before {
		t.Fatal("a declined bootstrap pushed")
	}

	// Accepted once the key is on the server: pushed with it, and the
	// cluster reads with it.
	stdin, answer := io.Pipe()
	errBuf := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- runContext(context.Background(), fresh, stdin, &bytes.Buffer{}, errBuf) }()
	var deployKey ssh.PublicKey
	eventually(t, "the deploy key offered", func() bool {
		for _, line := range strings.Split(errBuf.String(), "\n") {
			if strings.HasPrefix(line, "ssh-ed25519 ") && strings.Contains(errBuf.String(), "[y/N]") {
				k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
				deployKey = k
				return err == nil
			}
		}
		return false
	}, errBuf.String)
	srv.Authorize(deployKey)
	if _, err := answer.Write([]byte("y\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("bootstrap with a new deploy key: exit %d\n%s", code, errBuf.String())
		}
	case <-time.After(4 * time.Minute):
		t.Fatalf("bootstrap with a new deploy key did not finish:\n%s", errBuf.String())
	}
	secret := &corev1.Secret{}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "gotk-system", Name: "fresh"}, secret); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _, err := ssh.ParseAuthorizedKey(secret.Data["identity.pub"]); err != nil || !bytes.Equal(got.Marshal(), deployKey.Marshal()) {
		t.Fatalf("the Secret does not hold the offered key: %v", err)
	}
	if sync, _ := repoFile(t, bare, "clusters/prod/gotk-system/gotk-sync.yaml"); !strings.Contains(sync, "name: fresh") {
		t.Fatalf("gotk-sync.yaml does not name the new Secret:\n%s", sync)
	}
	checkSynced(t, c, bare)

	// A key without access: a clear error, and the cluster keeps the
	// Secret with the key that works.
	stranger := gs.Must[*gs.SSHKey](t)(gs.NewSSHKey(t.TempDir()))
	badKey := filepath.Join(t.TempDir(), "stranger")
	gs.NoErr(t, os.WriteFile(badKey, stranger.PrivatePEM, 0o600))
	r = kgotkWith(t, c.Kubeconfig, "", "bootstrap", "git", "--url="+srv.RepoURL("fleet.git"), "--path=clusters/prod",
		"--private-key-file="+badKey, "--components=source,kustomize")
	if r.code == 0 || !strings.Contains(r.stderr, "bootstrap needs read and write access to the repository") ||
		!strings.Contains(r.stderr, "SSH public key was not accepted") {
		t.Fatalf("a key without access must fail with the reason:\n%s", r)
	}
	secret = &corev1.Secret{}
	if err := c.Client.Get(context.Background(), types.NamespacedName{Namespace: "gotk-system", Name: "gotk-system"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["identity"]) != string(key.PrivatePEM) {
		t.Fatal("a failed bootstrap replaced the Secret's key")
	}
}
