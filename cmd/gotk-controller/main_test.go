package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// get polls url until it answers 200 or the deadline passes.
func get(t *testing.T, url string, exited <-chan struct{}, logs *bytes.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
		}
		select {
		case <-exited:
			t.Fatalf("gotk-controller exited early:\n%s", logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200 (last error %v):\n%s", url, err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// gotk-controller runs as a local process against the test control plane
// from a kubeconfig, answers its probes, serves the gotk metrics and stops
// cleanly on SIGTERM.
func TestControllerRunsFromKubeconfig(t *testing.T) {
	testenv.Require(t)
	dir := t.TempDir()
	bin := buildController(t)
	kubeconfig, err := env.Kubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	health, metrics, hooks, events := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--health-addr="+health, "--metrics-addr="+metrics,
		"--storage-addr=127.0.0.1:0", "--storage-path="+filepath.Join(dir, "storage"), "--log-encoding=console",
		"--receiver-addr="+hooks, "--events-listen-addr="+events, "--feature-gates=StrictPostBuildSubstitutions=true")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill() }()

	get(t, "http://"+health+"/healthz", exited, &logs)
	get(t, "http://"+health+"/readyz", exited, &logs)
	body := get(t, "http://"+metrics+"/metrics", exited, &logs)
	for _, want := range []string{
		`gotk_reconcile_duration_seconds_count{kind="GitRepository"}`,
		`gotk_reconcile_duration_seconds_count{kind="Kustomization"}`,
		`gotk_reconcile_duration_seconds_count{kind="HelmRelease"}`,
		`gotk_reconcile_duration_seconds_count{kind="Alert"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The notification controller serves Receiver webhooks on
	// --receiver-addr: a path no Receiver has is not found.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Post("http://"+hooks+"/hook/"+strings.Repeat("0", 64), "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("webhook server answered %d for an unknown path, want 404", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook server on --receiver-addr %s: %v\n%s", hooks, err, logs.String())
		}
	}

	// The notification controller's event server takes an event once.
	ev := `{"involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "default", "name": "app"},
		"severity": "info", "timestamp": "2026-01-01T00:00:00Z", "message": "applied", "reason": "ReconciliationSucceeded", "reportingController": "test"}`
	for _, want := range []int{http.StatusAccepted, http.StatusTooManyRequests} {
		// It starts once the caches synced, after the probes.
		var resp *http.Response
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err = http.Post("http://"+events+"/", "application/json", strings.NewReader(ev))
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("event server: %v\n%s", err, logs.String())
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("event server answered %d, want %d", resp.StatusCode, want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", waitErr, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("still running a minute after SIGTERM:\n%s", logs.String())
	}
}

// buildController builds gotk-controller into a temporary folder.
func buildController(t *testing.T) string {
	t.Helper()
	return buildBinaries(t, controller.AllInOne)[controller.AllInOne]
}

// buildBinaries builds the named binaries of cmd/ into a temporary folder,
// in one go build, and returns their paths by name.
func buildBinaries(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	out := map[string]string{}
	for _, n := range names {
		args = append(args, "../"+n)
		out[n] = filepath.Join(dir, n)
	}
	build := exec.Command("go", args...)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// Each binary of one controller runs its controllers and only them: its
// metrics have their kinds and none of the others', and it refuses a
// controller that another binary holds, naming that binary.
func TestControllerBinariesRunTheirOwn(t *testing.T) {
	testenv.Require(t)
	dir := t.TempDir()
	kubeconfig, err := env.Kubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string][]string{} // binary -> its controllers
	for _, n := range controller.Names {
		if b, ok := controller.Binaries[n]; ok {
			held[b] = append(held[b], n)
		}
	}
	var names []string
	for b := range held {
		names = append(names, b)
	}
	sort.Strings(names)
	bins := buildBinaries(t, names...)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			health, metrics := freeAddr(t), freeAddr(t)
			args := []string{"--kubeconfig=" + kubeconfig, "--health-addr=" + health, "--metrics-addr=" + metrics,
				"--controllers=" + strings.Join(held[name], ","), "--log-encoding=console",
				"--storage-addr=127.0.0.1:0", "--storage-path=" + filepath.Join(dir, name)}
			if slices.Contains(held[name], "notification") {
				args = append(args, "--receiver-addr="+freeAddr(t), "--events-listen-addr="+freeAddr(t))
			}
			var logs bytes.Buffer
			cmd := exec.Command(bins[name], args...)
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			defer func() { _ = cmd.Process.Kill(); <-exited }()

			get(t, "http://"+health+"/readyz", exited, &logs)
			body := get(t, "http://"+metrics+"/metrics", exited, &logs)
			for n, kinds := range controller.Kinds {
				for _, kind := range kinds {
					line := fmt.Sprintf(`gotk_reconcile_duration_seconds_count{kind=%q}`, kind)
					if own := slices.Contains(held[name], n); strings.Contains(body, line) != own {
						t.Errorf("metrics of %s: has %s = %v, want %v", kind, line, !own, own)
					}
				}
			}

			for n, other := range controller.Binaries {
				if other == name {
					continue
				}
				out, err := exec.Command(bins[name], "--controllers="+n).CombinedOutput()
				if err == nil || !strings.Contains(string(out), other) {
					t.Errorf("--controllers=%s: %v, want an error naming %s:\n%s", n, err, other, out)
				}
			}
		})
	}
}

func TestControllerRejectsBadFlags(t *testing.T) {
	bin := buildController(t)
	for _, args := range [][]string{
		{"--controllers=source,gitops"},
		{"--log-encoding=xml"},
		{"--concurrent=0"},
		{"--helm-index-max-size=0"},
		{"--feature-gates=NoSuchGate=true"},
		{"--feature-gates=StrictPostBuildSubstitutions=maybe"},
		{"--watch-configs-label-selector=a in (b"},
		{"--rate-limit-interval=-1s"},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: exit 0, want an error", args)
			continue
		}
		if !strings.Contains(string(out), strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "--")) {
			t.Errorf("%v: error does not name the flag:\n%s", args, out)
		}
	}
	// --help is no error.
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--controllers") {
		t.Errorf("--help: %v, want the usage and exit 0:\n%s", err, out)
	}
}
