package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// hookPod is a pre-install hook that runs until something completes it:
// Helm waits for it, with the release stored as pending-install.
const hookPod = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-setup
  annotations:
    helm.sh/hook: pre-install
spec:
  restartPolicy: Never
  containers:
    - name: setup
      image: busybox:1.36
      command: ["sh", "-c", "sleep 3600"]
`

// controllerProcess is a gotk-controller running the source and helm
// controllers.
type controllerProcess struct {
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	exited chan struct{}
}

// startHelmController runs the controller with its artifact storage in
// dir, served on storage: a restarted controller keeps both, as a pod
// keeps its volume and Service, so that the artifact URLs in the status of
// the sources stay valid.
func startHelmController(t *testing.T, bin, kubeconfig, dir, storage string) *controllerProcess {
	t.Helper()
	p := &controllerProcess{logs: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "--kubeconfig="+kubeconfig, "--controllers=source,helm",
		"--health-addr="+freeAddr(t), "--metrics-addr="+freeAddr(t), "--storage-addr="+storage,
		"--storage-path="+filepath.Join(dir, "storage"), "--log-encoding=console")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// A controller killed (SIGKILL) while Helm installs a release leaves the
// release pending-install in storage: "another operation is in progress"
// for every Helm client from then on. Started again, the controller
// unlocks it and carries on: the release ends deployed and the
// HelmRelease Ready.
func TestReleaseLeftPendingByKilledControllerCarriesOn(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildController(t)
	kubeconfig, err := env.Kubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := hs.Start(t, hs.Options{})
	srv.Add(t, hs.Chart{Name: "app", Version: "1.0.0", Values: "greeting: hello\n",
		Templates: map[string]string{"templates/setup.yaml": hookPod}})
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 30 * time.Minute},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", Version: "1.0.0",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: repo.Name},
			}},
		},
	}
	for _, o := range []client.Object{repo, hr} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	storage := freeAddr(t)
	first := startHelmController(t, bin, kubeconfig, dir, storage)
	poll(t, "the release stored pending-install and its hook created", first, func() bool {
		return releaseStatus(t, ns, "app") == "pending-install" &&
			env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-setup"}, &corev1.Pod{}) == nil
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if s := releaseStatus(t, ns, "app"); s != "pending-install" {
		t.Fatalf("release %s after the kill, want pending-install", s)
	}

	// From now on the hook's pods complete, as a kubelet would run them.
	hookCtx, stopHooks := context.WithCancel(ctx)
	defer stopHooks()
	go completePods(hookCtx, ns)

	second := startHelmController(t, bin, kubeconfig, dir, storage)
	key := client.ObjectKeyFromObject(hr)
	poll(t, "HelmRelease Ready with the release deployed", second, func() bool {
		if err := env.Client.Get(ctx, key, hr); err != nil {
			return false
		}
		latest := hr.Status.History.Latest()
		return runtime.IsReady(hr) && hr.Status.ObservedGeneration == hr.Generation &&
			latest != nil && latest.Status == "deployed" && releaseStatus(t, ns, "app") == "deployed"
	})
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, cm); err != nil {
		t.Fatalf("the release's ConfigMap: %v", err)
	}
	if cm.Data["greeting"] != "hello" {
		t.Errorf("greeting %q, want hello", cm.Data["greeting"])
	}
	var unlocked bool
	events := &corev1.EventList{}
	if err := env.Client.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Kind == helmv2.HelmReleaseKind && e.Reason == meta.ProgressingReason &&
			strings.Contains(e.Message, "was left pending-install") {
			unlocked = true
		}
	}
	if !unlocked {
		t.Errorf("no event says the release left pending-install was unlocked")
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// releaseStatus returns the status of the newest version of release name
// in the Helm storage of ns (Secrets labelled by Helm), or "".
func releaseStatus(t *testing.T, ns, name string) string {
	t.Helper()
	list := &corev1.SecretList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns),
		client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		t.Fatal(err)
	}
	status, newest := "", 0
	for _, s := range list.Items {
		var v int
		if err := json.Unmarshal([]byte(s.Labels["version"]), &v); err == nil && v > newest {
			newest, status = v, s.Labels["status"]
		}
	}
	return status
}

// completePods marks every pod of ns Succeeded until ctx ends: there is
// no kubelet in the test's control plane.
func completePods(ctx context.Context, ns string) {
	for ctx.Err() == nil {
		pods := &corev1.PodList{}
		if err := env.Client.List(ctx, pods, client.InNamespace(ns)); err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp != nil {
					continue
				}
				p.Status.Phase = corev1.PodSucceeded
				_ = env.Client.Status().Update(ctx, p)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// poll waits for cond, failing with the controller's logs when it does
// not hold within 3 minutes or the controller exits.
func poll(t *testing.T, what string, p *controllerProcess, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("gotk-controller exited while waiting for %s:\n%s", what, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after 3 minutes; controller logs:\n%s", what, p.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
