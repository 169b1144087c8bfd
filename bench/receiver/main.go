// Command receiver measures how soon a git push is applied when the push
// calls a Receiver, as a GitHub webhook would: it starts kube-apiserver
// and etcd (testenv), a Git HTTP server on loopback, and gotk-controller
// as a separate process (source, kustomize and notification controllers,
// with the webhook server), creates a GitRepository and a Kustomization
// with an interval of an hour and a github Receiver for both, then, run
// after run, commits a change to a ConfigMap, pushes it, sends the signed
// push webhook, and times until the ConfigMap in the cluster holds the
// change.
//
// See bench/README.md for the command and the figures.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func main() {
	runs := flag.Int("runs", 10, "pushes to time")
	controller := flag.String("controller", "", "gotk-controller binary; built from ./cmd/gotk-controller when empty")
	logs := flag.String("logs", "", "file for the controller's logs")
	flag.Parse()
	if err := run(*runs, *controller, *logs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const (
	ns    = "bench"
	token = "bench-receiver-token"
)

func run(runs int, controller, logs string) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "gotk-bench-receiver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if controller == "" {
		if controller, err = harness.BuildController(work); err != nil {
			return err
		}
	}
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	cl := env.Client

	gitRoot := filepath.Join(work, "git")
	if err := os.MkdirAll(gitRoot, 0o755); err != nil {
		return err
	}
	srv, err := gs.NewHTTP(gitRoot, gs.HTTPOptions{})
	if err != nil {
		return err
	}
	defer srv.Close()
	w, err := gs.Seed(gitRoot, "app.git", filepath.Join(work, "scratch"), map[string]string{"config.yaml": configMap(0)})
	if err != nil {
		return err
	}

	proc, hookAddr, err := startController(controller, env, work, logs)
	if err != nil {
		return err
	}
	defer func() {
		_ = proc.Process.Signal(os.Interrupt)
		_ = proc.Wait()
	}()

	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	hour := metav1.Duration{Duration: time.Hour}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github-token", Namespace: ns}, Data: map[string][]byte{"token": []byte(token)}},
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: sourcev1.GitRepositorySpec{URL: srv.RepoURL("app.git"), Interval: hour}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
				Path:      "./", Prune: true, Interval: hour,
			}},
		&notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: ns},
			Spec: notificationv1.ReceiverSpec{
				Type: notificationv1.GitHubReceiver, Events: []string{"push"},
				SecretRef: &meta.LocalObjectReference{Name: "github-token"},
				Resources: []notificationv1.ReceiverResource{
					{Kind: sourcev1.GitRepositoryKind, Name: "app"},
					{Kind: kustomizev1.KustomizationKind, Name: "app"},
				},
			}},
	}
	for _, o := range objs {
		if err := cl.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T: %w", o, err)
		}
	}
	if err := waitValue(ctx, cl, "0", 2*time.Minute); err != nil {
		return fmt.Errorf("the first revision was not applied: %w", err)
	}
	hook := "http://" + hookAddr + notificationv1.WebhookPath(token, "github", ns)
	rcv := &notificationv1.Receiver{}
	if err := poll(time.Minute, 10*time.Millisecond, func() bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, rcv) == nil && rcv.Status.WebhookPath != ""
	}); err != nil {
		return fmt.Errorf("the Receiver has no webhook path: %w", err)
	}

	var pushes, hooks, applies, totals []time.Duration
	before, err := w.Head()
	if err != nil {
		return err
	}
	for i := 1; i <= runs; i++ {
		after, err := w.CommitFiles(fmt.Sprintf("version %d", i), map[string]string{"config.yaml": configMap(i)})
		if err != nil {
			return err
		}
		start := time.Now()
		if err := w.Push("origin", gs.DefaultBranch); err != nil {
			return err
		}
		pushed := time.Now()
		if err := sendPush(hook, before, after, i); err != nil {
			return err
		}
		hooked := time.Now()
		if err := waitValue(ctx, cl, strconv.Itoa(i), time.Minute); err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		total := time.Since(start)
		pushes = append(pushes, pushed.Sub(start))
		hooks = append(hooks, hooked.Sub(pushed))
		applies = append(applies, total-pushed.Sub(start))
		totals = append(totals, total)
		fmt.Fprintf(os.Stderr, "run %d: push %s, webhook %s, push to applied %s\n", i, ms(pushed.Sub(start)), ms(hooked.Sub(pushed)), ms(total))
		before = after
	}
	fmt.Printf("| step | median | min | max |\n|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{
		{"git push (client side)", pushes},
		{"webhook call (200 answered: verified, both objects annotated)", hooks},
		{"webhook sent to ConfigMap changed (fetch, artifact, apply)", applies},
		{"**git push to ConfigMap changed in the cluster**", totals},
	} {
		med, lo, hi := stats(row.d)
		fmt.Printf("| %s | %s | %s | %s |\n", row.name, ms(med), ms(lo), ms(hi))
	}
	return nil
}

func configMap(version int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: %s\ndata:\n  version: \"%d\"\n", ns, version)
}

// sendPush sends GitHub's push delivery for after, signed with the token.
func sendPush(url, before, after string, n int) error {
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/%s","before":"%s","after":"%s","repository":{"full_name":"bench/app"},"head_commit":{"id":"%s"}}`,
		gs.DefaultBranch, before, after, after))
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

// waitValue polls the ConfigMap every 5ms until it holds version.
func waitValue(ctx context.Context, cl client.Client, version string, timeout time.Duration) error {
	cm := &corev1.ConfigMap{}
	return poll(timeout, 5*time.Millisecond, func() bool {
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, cm) == nil && cm.Data["version"] == version
	})
}

// startController runs gotk-controller with the source, kustomize and
// notification controllers and returns the webhook server's address.
func startController(bin string, env *testenv.Env, work, logs string) (*exec.Cmd, string, error) {
	kubeconfig, err := env.Kubeconfig(work)
	if err != nil {
		return nil, "", err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, "", err
	}
	storage := "127.0.0.1:" + ports[0]
	health := "127.0.0.1:" + ports[2]
	hook := "127.0.0.1:" + ports[3]
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--controllers=source,kustomize,notification",
		"--storage-path="+filepath.Join(work, "storage"), "--storage-addr="+storage, "--storage-adv-addr="+storage,
		"--metrics-addr=127.0.0.1:"+ports[1], "--health-addr="+health, "--receiver-addr="+hook,
		"--log-level=error", "--log-encoding=console")
	cmd.Env = append(os.Environ(), "TMPDIR="+work)
	if logs != "" {
		f, err := os.Create(logs)
		if err != nil {
			return nil, "", err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	if err := poll(time.Minute, 50*time.Millisecond, func() bool {
		c, err := net.Dial("tcp", hook)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}); err != nil {
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("gotk-controller's webhook server did not start: %w", err)
	}
	return cmd, hook, nil
}

func freePorts(n int) ([]string, error) {
	var ports []string
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}

func poll(timeout, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(interval)
	}
	return nil
}

func stats(d []time.Duration) (median, lo, hi time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[0], s[len(s)-1]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
