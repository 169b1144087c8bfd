// Command demo shows gotk's GitOps loop on a machine with no cluster: it
// starts a local control plane (etcd, kube-apiserver, controller manager,
// scheduler and a kwok node), runs the gotk controllers as local processes,
// serves a Git repository made from examples/ over HTTP, points a
// GitRepository and a Kustomization at it with the gotk CLI, and then
// commits a change and shows the cluster following Git. Then it serves a
// Helm repository with the chart of examples/charts/hello, installs it with
// a HelmRepository and a HelmRelease, publishes a new chart version and
// shows the upgrade.
//
// Run it through `make demo`; `make demo ONCE=1` (or -once) runs the steps
// and exits, with status 0 only if every step succeeded.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/localcluster"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func main() {
	once := flag.Bool("once", os.Getenv("ONCE") == "1", "run the steps and exit instead of waiting for Ctrl-C")
	bin := flag.String("bin", "bin", "directory holding the gotk and gotk-controller binaries")
	examples := flag.String("examples", "examples", "directory whose contents become the demo Git repository")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{bin: *bin, examples: *examples, once: *once}
	err := d.run(ctx)
	d.cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\n✗ demo failed: %v\n", err)
		if d.dir != "" && !*once {
			fmt.Fprintf(os.Stderr, "  logs of every process were in %s\n", d.dir)
		}
		os.Exit(1)
	}
}

type demo struct {
	bin, examples string
	once          bool
	dir           string
	cluster       *localcluster.Cluster
	git           *gitserver.HTTPServer
	controller    *exec.Cmd
	kubeconfig    string
	work          *gitserver.WorkTree
	// charts is the directory the Helm repository serves.
	charts string
	// alerts receives what the demo's webhook sink is sent.
	alerts chan string
}

func step(format string, args ...any) { fmt.Printf("\n▸ "+format+"\n", args...) }

func (d *demo) run(ctx context.Context) error {
	for _, b := range []string{"gotk", "gotk-controller"} {
		if _, err := os.Stat(filepath.Join(d.bin, b)); err != nil {
			return fmt.Errorf("%s/%s is missing: run `make build` first (make demo does)", d.bin, b)
		}
	}
	var err error
	if d.bin, err = filepath.Abs(d.bin); err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "gotk-demo-"); err != nil {
		return err
	}

	step("starting a local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a kwok node")
	start := time.Now()
	d.cluster, err = localcluster.Start(ctx, localcluster.Options{Dir: d.dir, Logs: prefixed("  ")})
	if err != nil {
		return fmt.Errorf("local control plane: %w", err)
	}
	d.kubeconfig = d.cluster.Kubeconfig
	fmt.Printf("  ready in %s (gotk's CRDs installed)\n", time.Since(start).Round(100*time.Millisecond))

	step("starting the gotk controllers (source, kustomize, helm, notification) as a local process")
	if err := d.startController(ctx); err != nil {
		return err
	}

	step("serving a Git repository made from %s/ over HTTP", d.examples)
	if err := d.startGit(); err != nil {
		return err
	}
	url := d.git.RepoURL("demo.git")
	fmt.Printf("  %s\n", url)

	step("pointing gotk at the repository")
	if err := d.gotk(ctx, "create", "source", "git", "demo", "--url="+url, "--branch=main", "--interval=1m"); err != nil {
		return err
	}
	if err := d.gotk(ctx, "create", "kustomization", "demo", "--source=GitRepository/demo", "--path=./apps/demo",
		"--prune=true", "--wait=true", "--interval=10m", "--timeout=3m"); err != nil {
		return err
	}
	if err := d.waitReplicas(ctx, 2); err != nil {
		return err
	}
	fmt.Println("  Deployment web/web is Available with 2 replicas")
	if err := d.gotk(ctx, "get", "all", "-A"); err != nil {
		return err
	}
	if err := d.gotk(ctx, "tree", "kustomization", "demo"); err != nil {
		return err
	}

	step("sending the Kustomization's events to a webhook: an Alert and a generic Provider")
	sink, err := d.startSink()
	if err != nil {
		return err
	}
	fmt.Printf("  a webhook sink listens on %s and prints what it is sent\n", sink)
	if err := d.gotk(ctx, "create", "alert-provider", "sink", "--type=generic", "--address="+sink); err != nil {
		return err
	}
	if err := d.gotk(ctx, "create", "alert", "demo", "--provider-ref=sink", "--event-source=Kustomization/demo",
		"--event-severity=info"); err != nil {
		return err
	}

	step("committing a change to Git: apps/demo/replicas.yaml, replicas 2 → 3")
	t0 := time.Now()
	if err := d.commitReplicas(3); err != nil {
		return err
	}
	if err := d.gotk(ctx, "reconcile", "kustomization", "demo", "--with-source"); err != nil {
		return err
	}
	if err := d.waitReplicas(ctx, 3); err != nil {
		return err
	}
	fmt.Printf("\n✔ the cluster followed Git in %s (from the push to 3 available replicas)\n", time.Since(t0).Round(time.Millisecond))
	if err := d.waitAlert(ctx, "Deployment/web/web configured"); err != nil {
		return err
	}
	if err := d.helmSteps(ctx); err != nil {
		return err
	}

	if d.once {
		return nil
	}
	fmt.Printf(`
The demo keeps running. In another terminal:

  export KUBECONFIG=%s
  export PATH=%s:$PATH
  gotk get all -A
  gotk tree kustomization demo
  kubectl get deploy,pods -n web        # if kubectl is installed
  git clone %s && cd demo               # change something, push, then:
  gotk reconcile kustomization demo --with-source
  gotk get helmreleases
  gotk reconcile helmrelease hello --with-source

Logs of every process are in %s. Press Ctrl-C to stop everything.
`, d.kubeconfig, d.bin, url, d.dir)
	<-ctx.Done()
	fmt.Println("\nstopping")
	return nil
}

// startSink serves a webhook on loopback that prints each event the
// Provider posts to it and hands its message to waitAlert. It returns its
// URL.
func (d *demo) startSink() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", port)
	if err != nil {
		return "", err
	}
	d.alerts = make(chan string, 16)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			InvolvedObject struct{ Kind, Namespace, Name string } `json:"involvedObject"`
			Severity       string                                 `json:"severity"`
			Reason         string                                 `json:"reason"`
			Message        string                                 `json:"message"`
			Metadata       map[string]string                      `json:"metadata"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o := ev.InvolvedObject
		fmt.Printf("  📨 webhook sink received: %s %s/%s/%s %s, revision %s:\n%s", ev.Severity, o.Kind, o.Namespace, o.Name,
			ev.Reason, ev.Metadata["revision"], indent(ev.Message, "       "))
		select {
		case d.alerts <- ev.Message:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + port + "/", nil
}

// waitAlert waits until the sink has been sent a message that contains
// want.
func (d *demo) waitAlert(ctx context.Context, want string) error {
	timeout := time.After(time.Minute)
	for {
		select {
		case msg := <-d.alerts:
			if strings.Contains(msg, want) {
				fmt.Println("✔ the Alert told the webhook what changed")
				return nil
			}
		case <-timeout:
			return fmt.Errorf("the webhook sink got no event saying %q within a minute: see %s/gotk-controller.log", want, d.dir)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

// prefixed writes each line indented, for the output of sub-steps. A
// line may arrive in several writes: only its start gets the prefix.
func prefixed(prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 4096)
		atStart := true
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				for _, line := range strings.SplitAfter(string(buf[:n]), "\n") {
					if line == "" {
						continue
					}
					if atStart {
						line = prefix + line
					}
					fmt.Print(line)
					atStart = strings.HasSuffix(line, "\n")
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return pw
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (d *demo) startController(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gotk-system"}}
	if err := d.cluster.Client.Create(ctx, ns); err != nil {
		return err
	}
	storage, err := freePort()
	if err != nil {
		return err
	}
	health, err := freePort()
	if err != nil {
		return err
	}
	events, err := freePort()
	if err != nil {
		return err
	}
	receiver, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(d.dir, "gotk-controller.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(d.bin, "gotk-controller"),
		"--kubeconfig="+d.kubeconfig, "--controllers=source,kustomize,helm,notification",
		"--events-listen-addr="+events, "--receiver-addr="+receiver,
		"--storage-path="+filepath.Join(d.dir, "storage"), "--storage-addr="+storage, "--storage-adv-addr="+storage,
		"--health-addr="+health, "--metrics-addr=0", "--log-encoding=console", "--concurrent=4")
	cmd.Env = append(os.Environ(), "RUNTIME_NAMESPACE=gotk-system")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gotk-controller: %w", err)
	}
	d.controller = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + health + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("  ready; logs in %s\n", logPath)
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("gotk-controller exited (%v): see %s", err, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gotk-controller not ready after a minute: see %s", logPath)
		}
	}
}

func (d *demo) startGit() error {
	root := filepath.Join(d.dir, "git")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	var err error
	d.git, err = gitserver.NewHTTP(root, gitserver.HTTPOptions{})
	if err != nil {
		return fmt.Errorf("git server: %w", err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(d.examples, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.examples, p)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", d.examples, err)
	}
	w, err := gitserver.Seed(d.git.Root, "demo.git", filepath.Join(d.dir, "work"), files)
	if err != nil {
		return fmt.Errorf("create the demo repository: %w", err)
	}
	d.work = w
	return nil
}

func (d *demo) commitReplicas(n int) error {
	path := "apps/demo/replicas.yaml"
	data, err := os.ReadFile(filepath.Join(d.work.Dir, path))
	if err != nil {
		return err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "replicas:") {
			line = fmt.Sprintf("  replicas: %d", n)
		}
		out = append(out, line)
	}
	if _, err := d.work.CommitFiles(fmt.Sprintf("demo: scale web to %d replicas", n), map[string]string{path: strings.Join(out, "\n")}); err != nil {
		return err
	}
	return d.work.Push("origin", gitserver.DefaultBranch)
}

// gotk runs the CLI as a user would, showing the command and its output.
func (d *demo) gotk(ctx context.Context, args ...string) error {
	fmt.Printf("\n  $ gotk %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "gotk"), append(args, "--namespace=gotk-system")...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig, "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = prefixed("  "), prefixed("  ")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gotk %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) waitReplicas(ctx context.Context, n int32) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	dep := &appsv1.Deployment{}
	for {
		err := d.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, dep)
		if err == nil && dep.Status.AvailableReplicas == n && dep.Status.UpdatedReplicas == n && dep.Status.ObservedGeneration == dep.Generation {
			return nil
		}
		if err := d.cluster.Exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("Deployment web/web did not reach %d available replicas in 3m (status %+v): see %s", n, dep.Status, d.dir)
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *demo) cleanup() {
	if d.controller != nil && d.controller.Process != nil {
		_ = d.controller.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = d.controller.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.controller.Process.Kill()
		}
	}
	if d.git != nil {
		_ = d.git.Close()
	}
	if d.cluster != nil {
		d.cluster.Stop()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}
