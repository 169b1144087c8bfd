// Command kustomization measures the Kustomization reconciler on a real
// control plane: it starts kube-apiserver and etcd (testenv), a Git HTTP
// server on loopback, and gotk-controller as a separate process (so that
// its peak memory is its own), then runs one scenario:
//
//   - wait (the default): the shape users run, on a control plane with
//     kube-controller-manager, kube-scheduler and a kwok node
//     (internal/localcluster): N Kustomizations with wait: true, each
//     applying its own 4 objects, from one GitRepository each or one for
//     all (see wait.go);
//   - many: N Kustomizations on one GitRepository, each applying a
//     ServiceAccount, a ConfigMap, a Service and a Deployment with 0
//     replicas into its own target namespace; it reports the time from the
//     first creation until all are Ready, and the controller's peak RSS.
//   - large: one Kustomization of M objects (the same four kinds); it
//     reports the time of the cold apply, then of a reconcile with nothing
//     changed, with the API requests that reconcile sent, by verb.
//
// See bench/README.md for the commands and the figures.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/kustomize"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

type config struct {
	scenario     string
	source       string
	kcmQPS       int
	count        int
	objects      int
	controller   string
	concurrent   int
	qps          int
	burst        int
	logs         string
	inProcess    bool
	measureBuild bool
	cpuProfile   string
	heapProfile  string
	pprofAddr    string // the controller's --pprof-addr, with heapProfile
	apiProfile   string
	apiSeconds   int
}

func main() {
	var c config
	flag.StringVar(&c.scenario, "scenario", "wait", "wait (N Kustomizations of 4 objects with wait: true, on a control plane with kube-controller-manager), many (the same without wait), or large (one Kustomization of M objects)")
	flag.IntVar(&c.kcmQPS, "kcm-qps", 0, "wait: --kube-api-qps of kube-controller-manager (burst twice that); its default (20) when 0")
	flag.StringVar(&c.source, "source", "per", "wait: per (one GitRepository per Kustomization) or shared (one GitRepository, a directory each)")
	flag.IntVar(&c.count, "count", 1000, "Kustomizations of the many scenario")
	flag.IntVar(&c.objects, "objects", 5000, "objects of the large scenario (a multiple of 4)")
	flag.StringVar(&c.controller, "controller", "", "gotk-controller binary; built from ./cmd/gotk-controller when empty")
	flag.IntVar(&c.concurrent, "concurrent", 0, "--concurrent of the controller; its default when 0")
	flag.IntVar(&c.qps, "qps", 0, "--kube-api-qps of the controller; its default when 0")
	flag.IntVar(&c.burst, "burst", 0, "--kube-api-burst of the controller; its default when 0")
	flag.StringVar(&c.logs, "logs", "", "file for the controller's logs (discarded when empty)")
	flag.BoolVar(&c.measureBuild, "measure-build", true, "large: also time the kustomize build of the objects on its own")
	flag.BoolVar(&c.inProcess, "in-process", false, "run the controllers in the bench process (for -cpuprofile; memory figures are then not the controller's alone)")
	flag.StringVar(&c.heapProfile, "heapprofile", "", "wait scenario: the controller's heap profiles into FILE.ready (all Ready) and FILE.round (after the nothing-changed round); go tool pprof reads them")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "with -in-process: CPU profile of the measured phase (the many scenario, or the unchanged reconciles)")
	flag.StringVar(&c.apiProfile, "apiserver-profile", "", "many: CPU profile of kube-apiserver (its /debug/pprof/profile) from the first Kustomization's creation on")
	flag.IntVar(&c.apiSeconds, "apiserver-profile-seconds", 20, "length of the -apiserver-profile")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "gotk-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if c.controller == "" {
		if c.controller, err = harness.BuildController(work); err != nil {
			return err
		}
	}

	if c.scenario == "wait" {
		return runWait(ctx, c, work)
	}
	env, err := testenv.Start(testenv.WithAPIServerFlag("service-cluster-ip-range", "10.96.0.0/16"))
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}

	var files map[string]string
	switch c.scenario {
	case "many":
		files = appFiles("", 1, "")
	case "large":
		files = largeFiles(c.objects)
	default:
		return fmt.Errorf("unknown scenario %q", c.scenario)
	}
	gitRoot := filepath.Join(work, "git")
	if err := os.MkdirAll(gitRoot, 0o755); err != nil {
		return err
	}
	srv, err := gs.NewHTTP(gitRoot, gs.HTTPOptions{})
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := gs.Seed(gitRoot, "fleet.git", filepath.Join(work, "scratch"), files); err != nil {
		return err
	}

	var metricsURL string
	pid := os.Getpid()
	if c.inProcess {
		stop, url, err := startInProcess(c, env, work)
		if err != nil {
			return err
		}
		defer stop()
		metricsURL = url
	} else {
		ctrlProc, url, err := startController(c, env, work)
		if err != nil {
			return err
		}
		defer func() {
			_ = ctrlProc.Process.Signal(os.Interrupt)
			_ = ctrlProc.Wait()
		}()
		metricsURL, pid = url, ctrlProc.Process.Pid
	}

	const ns = "bench"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	src := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL("fleet.git"), Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := cl.Create(ctx, src); err != nil {
		return err
	}
	if err := harness.Poll(2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(src), src)
		return err == nil && src.Status.Artifact != nil, nil
	}); err != nil {
		return fmt.Errorf("GitRepository has no artifact: %w", err)
	}
	fmt.Printf("controller: %s %s\n", c.controller, c.tuning())

	switch c.scenario {
	case "many":
		err = many(ctx, cl, env, c, ns, src.Status.Artifact.Revision, pid)
	case "large":
		err = large(ctx, cl, env, c, ns, src.Status.Artifact.Revision, metricsURL, pid)
	}
	return err
}

// startController runs gotk-controller against the control plane and
// waits until its metrics endpoint answers.
func startController(c config, env *testenv.Env, work string) (*exec.Cmd, string, error) {
	kubeconfig, err := env.Kubeconfig(work)
	if err != nil {
		return nil, "", err
	}
	ports, err := harness.FreePorts(3)
	if err != nil {
		return nil, "", err
	}
	storage := "127.0.0.1:" + ports[0]
	metrics := "127.0.0.1:" + ports[1]
	args := []string{
		"--kubeconfig=" + kubeconfig, "--controllers=source,kustomize",
		"--storage-path=" + filepath.Join(work, "storage"), "--storage-addr=" + storage, "--storage-adv-addr=" + storage,
		"--metrics-addr=" + metrics, "--health-addr=127.0.0.1:" + ports[2], "--log-level=error", "--log-encoding=console",
	}
	if c.pprofAddr != "" {
		args = append(args, "--pprof-addr="+c.pprofAddr)
	}
	if c.concurrent > 0 {
		args = append(args, "--concurrent="+strconv.Itoa(c.concurrent))
	}
	if c.qps > 0 {
		args = append(args, "--kube-api-qps="+strconv.Itoa(c.qps))
	}
	if c.burst > 0 {
		args = append(args, "--kube-api-burst="+strconv.Itoa(c.burst))
	}
	cmd := exec.Command(c.controller, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+work)
	if c.logs != "" {
		f, err := os.Create(c.logs)
		if err != nil {
			return nil, "", err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	url := "http://" + metrics + "/metrics"
	err = harness.Poll(time.Minute, 100*time.Millisecond, func() (bool, error) {
		resp, err := http.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("gotk-controller did not start: %w", err)
	}
	return cmd, url, nil
}

// many creates c.count Kustomizations, each into its own namespace, and
// times them until all are Ready at revision.
func many(ctx context.Context, cl client.WithWatch, env *testenv.Env, c config, ns, revision string, pid int) error {
	names, err := harness.AppNamespaces(ctx, cl, c.count)
	if err != nil {
		return err
	}
	apiBefore, err := harness.APIServerRequests(env.Config)
	if err != nil {
		return err
	}
	cpuBefore := harness.CPUSnapshot(pid)
	stopProfile, err := profile(c.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	stopAPIProfile := harness.APIServerProfile(env.Config, c.apiProfile, c.apiSeconds)
	watchCtx, stopWatch := context.WithTimeout(ctx, 10*time.Minute)
	defer stopWatch()
	readyAt := watchAllReady(watchCtx, cl, ns, c.count, revision)
	start := time.Now()
	if err := harness.Parallel(names, 32, func(name string) error {
		return cl.Create(ctx, newKustomization(ns, name, "./app", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = name }))
	}); err != nil {
		return err
	}
	created := time.Since(start)
	res := <-readyAt
	if res.err != nil {
		return res.err
	}
	elapsed, ready := res.at.Sub(start), res.ready
	hwm, err := peakRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("many: %d Kustomizations x 4 objects: all created in %s, all Ready after %s (%d ready)\n",
		c.count, created.Round(time.Millisecond), elapsed.Round(time.Millisecond), ready)
	apiAfter, err := harness.APIServerRequests(env.Config)
	if err != nil {
		return err
	}
	fmt.Printf("many: API server requests by verb/resource (the bench's own: POST and LIST kustomizations): %s\n", harness.APIByVerb(harness.Delta(apiBefore, apiAfter)))
	fmt.Printf("many: controller peak RSS (VmHWM) %s\n", hwm)
	fmt.Printf("many: CPU time during the scenario: %s\n", harness.CPUSince(cpuBefore, pid))
	return stopAPIProfile()
}

// large applies one Kustomization of c.objects objects, then asks for a
// reconcile with nothing changed and counts what it costs.
func large(ctx context.Context, cl client.Client, env *testenv.Env, c config, ns, revision, metricsURL string, pid int) error {
	k := newKustomization(ns, "large", "./large", nil)
	k.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Minute}
	start := time.Now()
	if err := cl.Create(ctx, k); err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(k)
	if err := harness.Poll(30*time.Minute, 200*time.Millisecond, func() (bool, error) {
		if err := cl.Get(ctx, key, k); err != nil {
			return false, err
		}
		return runtime.IsReady(k) && k.Status.LastAppliedRevision == revision, nil
	}); err != nil {
		return fmt.Errorf("cold apply: %w (Ready: %s)", err, runtime.Message(k, meta.ReadyCondition))
	}
	cold := time.Since(start)
	fmt.Printf("large: cold apply of %d objects: Ready after %s (inventory %d)\n", c.objects, cold.Round(time.Millisecond), len(k.Status.Inventory.Entries))
	if c.measureBuild {
		took, err := timeBuild(c.objects)
		if err != nil {
			return err
		}
		fmt.Printf("large:   of which kustomize builds the %d objects in about %s (the same build, in the bench process, after the apply)\n", c.objects, took.Round(time.Millisecond))
	}

	stopProfile, err := profile(c.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpuBefore := harness.CPUSnapshot(pid)
	for round := 1; round <= 3; round++ {
		ctrlBefore, err := harness.Scrape(metricsURL)
		if err != nil {
			return err
		}
		apiBefore, err := harness.APIServerRequests(env.Config)
		if err != nil {
			return err
		}
		token := strconv.FormatInt(time.Now().UnixNano(), 10)
		patch := client.MergeFrom(k.DeepCopy())
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[meta.ReconcileRequestAnnotation] = token
		start = time.Now()
		if err := cl.Patch(ctx, k, patch); err != nil {
			return err
		}
		if err := harness.Poll(5*time.Minute, 50*time.Millisecond, func() (bool, error) {
			if err := cl.Get(ctx, key, k); err != nil {
				return false, err
			}
			return k.Status.LastHandledReconcileAt == token, nil
		}); err != nil {
			return err
		}
		wall := time.Since(start)
		// The reconcile's duration is recorded just after its status patch.
		countKey := `controller_runtime_reconcile_time_seconds_count{controller="kustomization"}`
		var ctrlAfter map[string]float64
		if err := harness.Poll(10*time.Second, 20*time.Millisecond, func() (bool, error) {
			var err error
			ctrlAfter, err = harness.Scrape(metricsURL)
			return err == nil && ctrlAfter[countKey] > ctrlBefore[countKey], err
		}); err != nil {
			return err
		}
		apiAfter, err := harness.APIServerRequests(env.Config)
		if err != nil {
			return err
		}
		d := harness.Delta(ctrlBefore, ctrlAfter)
		recTime := d[`controller_runtime_reconcile_time_seconds_sum{controller="kustomization"}`]
		recCount := d[`controller_runtime_reconcile_time_seconds_count{controller="kustomization"}`]
		fmt.Printf("large: unchanged reconcile %d: %s from request to status (reconcile time %.3fs over %v reconciles), ready %v\n",
			round, wall.Round(time.Millisecond), recTime, recCount, runtime.IsReady(k))
		fmt.Printf("large:   controller requests by method: %s\n", harness.ByLabel(d, "rest_client_requests_total", "method"))
		fmt.Printf("large:   API server requests by verb/resource (the bench's own: PATCH and GET kustomizations): %s\n", harness.APIByVerb(harness.Delta(apiBefore, apiAfter)))
	}
	hwm, err := peakRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("large: controller peak RSS (VmHWM) %s\n", hwm)
	fmt.Printf("large: CPU time of the unchanged reconciles: %s\n", harness.CPUSince(cpuBefore, pid))
	return nil
}

func newKustomization(ns, name, path string, mutate func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			Path:      path,
			Interval:  metav1.Duration{Duration: time.Hour},
			Prune:     true,
		},
	}
	if mutate != nil {
		mutate(k)
	}
	return k
}

// appFiles returns the four objects of one application under dir app/,
// named with prefix, in namespace ns (none: the targetNamespace sets it).
func appFiles(prefix string, n int, ns string) map[string]string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		name := prefix + "web"
		if n > 1 {
			name = fmt.Sprintf("%sweb-%04d", prefix, i)
		}
		nsLine := ""
		if ns != "" {
			nsLine = "\n  namespace: " + ns
		}
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s%[2]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s%[2]s
data:
  greeting: hello
  index: "%[3]d"
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s%[2]s
spec:
  selector:
    app: %[1]s
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s%[2]s
spec:
  replicas: 0
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      serviceAccountName: %[1]s
      containers:
        - name: web
          image: nginx:1.27
          envFrom:
            - configMapRef:
                name: %[1]s
`, name, nsLine, i)
	}
	return map[string]string{"app/objects.yaml": b.String()}
}

// largeFiles returns objects/4 applications in one namespace under
// large/, split over files of 100 applications each.
func largeFiles(objects int) map[string]string {
	apps := objects / 4
	files := map[string]string{"large/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: large\n"}
	for f := 0; f*100 < apps; f++ {
		n := min(100, apps-f*100)
		one := appFiles(fmt.Sprintf("f%02d-", f), n, "large")
		files[fmt.Sprintf("large/objects-%02d.yaml", f)] = one["app/objects.yaml"]
	}
	return files
}

// peakRSS reads VmHWM, the peak resident set size, of a process.
func peakRSS(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// timeBuild builds the large scenario's files with internal/kustomize, as
// the controller does, and returns how long it took.
func timeBuild(objects int) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "gotk-bench-build-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	for name, content := range largeFiles(objects) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	objs, err := kustomize.Build(context.Background(), dir, &kustomizev1.KustomizationSpec{Path: "./large"}, kustomize.BuildOptions{})
	if err != nil {
		return 0, err
	}
	if len(objs) != objects+1 {
		return 0, fmt.Errorf("built %d objects, want %d", len(objs), objects+1)
	}
	return time.Since(start), nil
}

// rssSampler follows the split of a process's resident memory: the peak
// of its anonymous pages (heap, stacks: what the controller allocates)
// and of its file pages (mostly the binary's own), sampled every 100 ms.
// VmHWM is their peak sum, as the kernel counts it.
type rssSampler struct {
	mu         sync.Mutex
	anon, file int64 // kB
}

func sampleRSS(ctx context.Context, pid int) *rssSampler {
	s := &rssSampler{}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				s.mu.Lock()
				for line := range strings.SplitSeq(string(data), "\n") {
					var kb int64
					if _, err := fmt.Sscanf(line, "RssAnon: %d kB", &kb); err == nil {
						s.anon = max(s.anon, kb)
					} else if _, err := fmt.Sscanf(line, "RssFile: %d kB", &kb); err == nil {
						s.file = max(s.file, kb)
					}
				}
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) String() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf(" (sampled peaks: anonymous %d MiB, file pages %d MiB)", s.anon/1024, s.file/1024)
}

// tuning prints the controller's tuning flags that the bench sets; the
// others keep the controller's defaults.
func (c config) tuning() string {
	var flags []string
	for _, f := range []struct {
		name  string
		value int
	}{{"concurrent", c.concurrent}, {"kube-api-qps", c.qps}, {"kube-api-burst", c.burst}} {
		if f.value > 0 {
			flags = append(flags, fmt.Sprintf("--%s=%d", f.name, f.value))
		}
	}
	if len(flags) == 0 {
		return "(default --concurrent, --kube-api-qps and --kube-api-burst)"
	}
	return strings.Join(flags, " ")
}
