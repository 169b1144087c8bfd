// Command helmrelease measures the HelmRelease reconciler on the control
// plane users run: kube-apiserver and etcd, kube-controller-manager,
// kube-scheduler and a kwok node (internal/localcluster), so that the
// Deployments of the releases really become Available. One HelmRepository
// serves a small chart (a ServiceAccount, a Service and a Deployment with
// 0 replicas) over HTTP on loopback; N HelmReleases, each in its own
// namespace with driftDetection.mode: enabled, install it, then upgrade
// after a change of spec.values on every one of them. The source and helm
// controllers run as gotk install deploys them: each in its own process
// and binary (gotk-source-controller and gotk-helm-controller), or, with
// -one-process, together in gotk-controller --controllers=source,helm.
//
// It reports the time from the first creation until all are Ready, the
// time from the values change until all have upgraded, the helm
// controller's peak RSS (and the source controller's apart), the CPU time
// of the controllers, kube-apiserver and etcd, and the requests by verb.
// See bench/README.md for the commands and figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/runtime"
)

type config struct {
	count       int
	bin         string
	concurrent  int
	qps, burst  int
	kcmQPS      int
	logs        string
	heapProfile string
	cpuProfile  string
	cpuSeconds  int
	apiProfile  string
	timeout     time.Duration
	oneProcess  bool
	floor       bool
}

// benchLabel marks the bench's HelmReleases, which it watches across
// namespaces.
const benchLabel = "gotk.dev/bench"

func main() {
	var c config
	flag.IntVar(&c.count, "n", 100, "HelmReleases, each in its own namespace")
	flag.StringVar(&c.bin, "bin", "", "directory with gotk-controller, gotk-source-controller and gotk-helm-controller; built from ./cmd when empty")
	flag.IntVar(&c.concurrent, "concurrent", 0, "--concurrent of the controller; its default when 0")
	flag.IntVar(&c.qps, "qps", 0, "--kube-api-qps of the controller; its default when 0")
	flag.IntVar(&c.burst, "burst", 0, "--kube-api-burst of the controller; its default when 0")
	flag.IntVar(&c.kcmQPS, "kcm-qps", 0, "--kube-api-qps of kube-controller-manager (burst twice that); its default (20) when 0")
	flag.StringVar(&c.logs, "logs", "", "file for the controller's logs (discarded when empty)")
	flag.StringVar(&c.heapProfile, "heapprofile", "", "the controller's heap profiles into FILE.ready (all installed) and FILE.upgraded; go tool pprof reads them")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "the controller's CPU profiles into FILE.install and FILE.upgrade, each of -cpuprofile-seconds from the phase's start")
	flag.IntVar(&c.cpuSeconds, "cpuprofile-seconds", 30, "length of each -cpuprofile")
	flag.StringVar(&c.apiProfile, "apiserver-profile", "", "kube-apiserver's CPU profiles into FILE.install and FILE.upgrade, of -cpuprofile-seconds each")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up on a phase after this long")
	flag.BoolVar(&c.floor, "floor", false, "no gotk: apply each release's objects directly (server-side, 8 namespaces at a time) and wait until every Deployment is Available, to measure what the control plane alone takes")
	flag.BoolVar(&c.oneProcess, "one-process", false, "run the source and helm controllers in one process (--controllers=source,helm) instead of one each, as gotk install deploys them")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "gotk-bench-helmrelease-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if c.bin == "" && !c.floor {
		c.bin = filepath.Join(work, "bin")
		if err := harness.BuildBinaries(c.bin); err != nil {
			return err
		}
	}

	chartDir := filepath.Join(work, "charts")
	if err := writeRepository(chartDir); err != nil {
		return err
	}
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		http.FileServer(http.Dir(chartDir)).ServeHTTP(w, r)
	}))
	defer srv.Close()

	cluster, cl, err := harness.StartCluster(ctx, work, c.kcmQPS)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	env := cluster.Env
	if c.floor {
		return floor(ctx, cl, c.count)
	}

	controllers := "helm"
	var source *harness.Controller
	if c.oneProcess {
		controllers = "source,helm"
	} else {
		logs := ""
		if c.logs != "" {
			logs = c.logs + ".source"
		}
		if source, err = startController(c, cluster.Kubeconfig, "source", filepath.Join(work, "source"), logs, false); err != nil {
			return err
		}
		defer source.Stop()
	}
	ctrlProc, err := startController(c, cluster.Kubeconfig, controllers, filepath.Join(work, "helm"), c.logs, c.heapProfile != "" || c.cpuProfile != "")
	if err != nil {
		return err
	}
	defer ctrlProc.Stop()
	pid := ctrlProc.Pid
	fmt.Printf("controller: %s --controllers=%s --concurrent=%d --kube-api-qps=%d --kube-api-burst=%d\n",
		ctrlProc.Binary, controllers, c.concurrent, c.qps, c.burst)
	if source != nil {
		fmt.Printf("  and in a process of its own, %s with the same flags and --controllers=source\n", source.Binary)
	}

	const repoNS = "bench"
	names, err := harness.AppNamespaces(ctx, cl, c.count, repoNS)
	if err != nil {
		return err
	}
	// Idle: caches synced, the namespaces there, nothing to reconcile.
	time.Sleep(5 * time.Second)
	idle, err := harness.ProcStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	anon, _ := harness.ProcStatus(pid, "RssAnon")
	file, _ := harness.ProcStatus(pid, "RssFile")
	fmt.Printf("controller idle: VmRSS %s (anonymous %s, file pages %s)\n", harness.MiB(idle), harness.MiB(anon), harness.MiB(file))
	if source != nil {
		rss, _ := harness.ProcStatus(source.Pid, "VmRSS")
		fmt.Printf("source controller idle: VmRSS %s\n", harness.MiB(rss))
	}

	helmRepo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: repoNS},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}
	release := func(ns string) *helmv2.HelmRelease {
		return &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns, Labels: map[string]string{benchLabel: "helmrelease"}},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: "app", Version: "1.x",
					SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: helmRepo.Name, Namespace: repoNS},
					Interval:  &metav1.Duration{Duration: time.Hour},
				}},
				DriftDetection: &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled},
				Values:         &meta.JSON{Raw: []byte(`{"message":"hello"}`)},
			},
		}
	}

	// Phase 1: install.
	phase := newPhase(env.Config, ctrlProc, source)
	stopCPU := cpuProfile(c, ctrlProc, env.Config, "install")
	watchCtx, stopWatch := context.WithTimeout(ctx, c.timeout)
	defer stopWatch()
	installed := watchAll(watchCtx, cl, c.count, func(hr *helmv2.HelmRelease) bool {
		latest := hr.Status.History.Latest()
		return runtime.IsReady(hr) && hr.Status.ObservedGeneration == hr.Generation && latest != nil && latest.Status == "deployed"
	})
	start := time.Now()
	if err := cl.Create(ctx, helmRepo); err != nil {
		return err
	}
	if err := harness.Parallel(names, 32, func(ns string) error { return cl.Create(ctx, release(ns)) }); err != nil {
		return err
	}
	created := time.Since(start)
	res := <-installed
	if res.err != nil {
		return res.err
	}
	fmt.Printf("install: %d HelmReleases (chart of a ServiceAccount, a Service and a Deployment of 0 replicas), driftDetection enabled: all created in %s, all Ready after %s\n",
		c.count, created.Round(time.Millisecond), res.at.Sub(start).Round(time.Millisecond))
	if err := phase.report("install"); err != nil {
		return err
	}
	if err := stopCPU(); err != nil {
		return err
	}
	if c.heapProfile != "" {
		if err := ctrlProc.HeapProfile(c.heapProfile + ".ready"); err != nil {
			return err
		}
	}

	// Phase 2: a change of spec.values on every HelmRelease.
	harness.ResetPeak(pid)
	if source != nil {
		harness.ResetPeak(source.Pid)
	}
	phase = newPhase(env.Config, ctrlProc, source)
	stopCPU = cpuProfile(c, ctrlProc, env.Config, "upgrade")
	upgraded := watchAll(watchCtx, cl, c.count, func(hr *helmv2.HelmRelease) bool {
		latest := hr.Status.History.Latest()
		return runtime.IsReady(hr) && hr.Status.ObservedGeneration == hr.Generation &&
			latest != nil && latest.Version >= 2 && latest.Status == "deployed"
	})
	start = time.Now()
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"values":{"message":"upgraded"}}}`))
	if err := harness.Parallel(names, 32, func(ns string) error {
		return cl.Patch(ctx, &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}, patch)
	}); err != nil {
		return err
	}
	res = <-upgraded
	if res.err != nil {
		return res.err
	}
	fmt.Printf("upgrade: spec.values changed on all %d: all upgraded and Ready after %s\n", c.count, res.at.Sub(start).Round(time.Millisecond))
	if err := phase.report("upgrade"); err != nil {
		return err
	}
	if err := stopCPU(); err != nil {
		return err
	}
	if c.heapProfile != "" {
		if err := ctrlProc.HeapProfile(c.heapProfile + ".upgraded"); err != nil {
			return err
		}
	}
	fmt.Printf("HTTP requests to the chart repository: %d\n", served.Load())
	return nil
}

// phase holds the counters at the start of a phase.
type phase struct {
	cfg       *rest.Config
	ctrl      *harness.Controller
	source    *harness.Controller // nil when it runs in ctrl
	api       map[string]float64
	own       map[string]float64
	cpu       map[string]float64
	sourceCPU float64
	err       error
}

func newPhase(cfg *rest.Config, ctrl, source *harness.Controller) *phase {
	p := &phase{cfg: cfg, ctrl: ctrl, source: source, cpu: harness.CPUSnapshot(ctrl.Pid, source.PidOrZero())}
	if source != nil {
		p.sourceCPU = harness.CPUOf(source.Pid)
	}
	if p.api, p.err = harness.APIServerRequests(cfg); p.err == nil {
		p.own, p.err = harness.Scrape(ctrl.MetricsURL)
	}
	return p
}

// report prints the requests since the phase began (the API server's by
// verb and resource, which include those of kube-controller-manager, the
// scheduler, kwok and the bench; the controller's by method), the
// controller's peak RSS and the CPU time.
func (p *phase) report(name string) error {
	if p.err != nil {
		return p.err
	}
	api, err := harness.APIServerRequests(p.cfg)
	if err != nil {
		return err
	}
	own, err := harness.Scrape(p.ctrl.MetricsURL)
	if err != nil {
		return err
	}
	hwm, err := harness.ProcStatus(p.ctrl.Pid, "VmHWM")
	if err != nil {
		return err
	}
	rss, _ := harness.ProcStatus(p.ctrl.Pid, "VmRSS")
	d := harness.Delta(p.own, own)
	fmt.Printf("%s:   controller requests by method: %s\n", name, harness.ByLabel(d, "rest_client_requests_total", "method"))
	fmt.Printf("%s:   API server requests by verb/resource (all clients): %s\n", name, harness.APIByVerb(harness.Delta(p.api, api)))
	fmt.Printf("%s:   controller peak RSS (VmHWM) %s, VmRSS after %s, Go heap in use %s\n", name, harness.MiB(hwm), harness.MiB(rss),
		harness.MiB(int64(own["go_memstats_heap_inuse_bytes"])))
	fmt.Printf("%s:   CPU time: %s\n", name, harness.CPUSince(p.cpu, p.ctrl.Pid, p.source.PidOrZero()))
	if p.source != nil {
		hwm, err := harness.ProcStatus(p.source.Pid, "VmHWM")
		if err != nil {
			return err
		}
		fmt.Printf("%s:   source controller (its own process): peak RSS (VmHWM) %s, CPU time %.1fs\n", name, harness.MiB(hwm),
			harness.CPUOf(p.source.Pid)-p.sourceCPU)
	}
	return nil
}

// startController runs the binary that holds controllers (one of its own,
// or gotk-controller), in a work directory of its own.
func startController(c config, kubeconfig, controllers, work, logs string, pprof bool) (*harness.Controller, error) {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	return harness.StartController(harness.ControllerOptions{
		Binary:     filepath.Join(c.bin, controller.BinaryOf(strings.Split(controllers, ","))),
		Kubeconfig: kubeconfig, Controllers: controllers, Work: work,
		Concurrent: c.concurrent, QPS: c.qps, Burst: c.burst, Logs: logs, Pprof: pprof,
	})
}

// cpuProfile starts the CPU profiles of phase that were asked for, the
// controller's and kube-apiserver's, and returns a function that waits
// for them.
func cpuProfile(c config, ctrl *harness.Controller, api *rest.Config, phase string) func() error {
	var waits []func() error
	if c.cpuProfile != "" {
		waits = append(waits, ctrl.CPUProfile(c.cpuProfile+"."+phase, c.cpuSeconds))
	}
	if c.apiProfile != "" {
		waits = append(waits, harness.APIServerProfile(api, c.apiProfile+"."+phase, c.cpuSeconds))
	}
	return func() error {
		var errs []error
		for _, w := range waits {
			errs = append(errs, w())
		}
		return errors.Join(errs...)
	}
}

// result is when the last HelmRelease was seen done.
type result struct {
	at  time.Time
	err error
}

// watchAll watches the bench's HelmReleases in every namespace until want
// of them satisfy done, and sends the time the last one was seen to. It
// watches rather than polls, so as to cost the API server little.
func watchAll(ctx context.Context, cl client.WithWatch, want int, done func(*helmv2.HelmRelease) bool) <-chan result {
	out := make(chan result, 1)
	sel := client.HasLabels{benchLabel}
	go func() {
		state := map[string]bool{}
		count := func() int {
			n := 0
			for _, ok := range state {
				if ok {
					n++
				}
			}
			return n
		}
		observe := func(hr *helmv2.HelmRelease) { state[hr.Namespace+"/"+hr.Name] = done(hr) }
		for {
			list := &helmv2.HelmReleaseList{}
			if err := cl.List(ctx, list, sel); err != nil {
				out <- result{err: fmt.Errorf("list HelmReleases (%d of %d done): %w", count(), want, err)}
				return
			}
			for i := range list.Items {
				observe(&list.Items[i])
			}
			if count() >= want {
				out <- result{at: time.Now()}
				return
			}
			w, err := cl.Watch(ctx, &helmv2.HelmReleaseList{}, sel, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
			if err != nil {
				out <- result{err: fmt.Errorf("watch HelmReleases (%d of %d done): %w", count(), want, err)}
				return
			}
			for ev := range w.ResultChan() {
				hr, ok := ev.Object.(*helmv2.HelmRelease)
				if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
					continue
				}
				observe(hr)
				if count() >= want {
					w.Stop()
					out <- result{at: time.Now()}
					return
				}
			}
			w.Stop()
			if ctx.Err() != nil {
				out <- result{err: fmt.Errorf("%d of %d HelmReleases done: %w", count(), want, ctx.Err())}
				return
			}
			// The watch ended (a timeout of the API server): list again.
		}
	}()
	return out
}

// writeRepository packages the chart app 1.0.0 into dir with its
// index.yaml: a ServiceAccount, a Service and a Deployment of 0 replicas,
// whose pod template carries .Values.message, so that a change of values
// changes the Deployment.
func writeRepository(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "app", Version: "1.0.0", AppVersion: "1.27", Type: "application"},
		Raw:      []*common.File{{Name: chartutil.ValuesfileName, Data: []byte("message: hello\n")}},
		Templates: []*common.File{
			{Name: "templates/serviceaccount.yaml", Data: []byte(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
`)},
			{Name: "templates/service.yaml", Data: []byte(`apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app: {{ .Release.Name }}
  ports:
    - port: 80
      targetPort: 8080
`)},
			{Name: "templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 0
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
      annotations:
        message: {{ .Values.message | quote }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        - name: web
          image: nginx:1.27
`)},
		},
	}
	if _, err := chartutil.Save(ch, dir); err != nil {
		return fmt.Errorf("package chart: %w", err)
	}
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		return fmt.Errorf("index charts: %w", err)
	}
	return idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644)
}

// floor applies the objects that the chart renders for each release
// straight to the cluster, with server-side apply and 8 namespaces at a
// time (as many as the controller's --concurrent), and waits until every
// Deployment is Available: the work of the control plane without gotk.
func floor(ctx context.Context, cl client.Client, n int) error {
	names, err := harness.AppNamespaces(ctx, cl, n)
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	cpu := harness.CPUSnapshot(os.Getpid())
	start := time.Now()
	if err := harness.Parallel(names, 8, func(ns string) error {
		labels := map[string]string{"app": ns}
		for _, o := range []client.Object{
			&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns}},
			&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns},
				Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
			&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"message": "hello"}},
						Spec:       corev1.PodSpec{ServiceAccountName: ns, Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
					}}},
		} {
			if err := cl.Patch(ctx, o, client.Apply, client.FieldOwner("bench"), client.ForceOwnership); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	applied := time.Since(start)
	for {
		list := &appsv1.DeploymentList{}
		if err := cl.List(ctx, list); err != nil {
			return err
		}
		available := 0
		for _, d := range list.Items {
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.ObservedGeneration == d.Generation {
					available++
				}
			}
		}
		if available >= n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	after := harness.CPUSnapshot(os.Getpid())
	fmt.Printf("floor: %d × (ServiceAccount, Service, Deployment of 0 replicas) applied in %s, all Available after %s\n",
		n, applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	fmt.Printf("floor:   CPU time: kube-apiserver %.1fs, etcd %.1fs, kube-controller-manager %.1fs\n",
		after["kube-apiserver"]-cpu["kube-apiserver"], after["etcd"]-cpu["etcd"], after["kube-controller"]-cpu["kube-controller"])
	return nil
}
