// Command helmchart measures the HelmRepository and HelmChart reconcilers
// on a large chart repository: it generates an index.yaml of about 50 MB
// (thousands of charts, many versions each) served over HTTP on loopback,
// starts kube-apiserver and etcd (testenv) and gotk-controller as a
// separate process (--controllers=source, so that its peak memory is its
// own), then creates one HelmRepository and N HelmCharts on it. It reports
// the time until the repository, then all the charts, are Ready, and the
// controller's resident memory: idle, and the peak (VmHWM) of each phase,
// the peak being reset between phases (clear_refs).
//
// See bench/README.md for the commands and the figures.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

type config struct {
	charts, versions, count int
	controller              string
	concurrent              int
	logs                    string
}

func main() {
	var c config
	flag.IntVar(&c.charts, "charts", 2500, "charts in the generated index")
	flag.IntVar(&c.versions, "versions", 25, "versions of each chart in the index")
	flag.IntVar(&c.count, "count", 100, "HelmCharts to create, each on its own chart of the index")
	flag.StringVar(&c.controller, "controller", "", "gotk-controller binary; built from ./cmd/gotk-controller when empty")
	flag.IntVar(&c.concurrent, "concurrent", 0, "--concurrent of the controller; its default when 0")
	flag.StringVar(&c.logs, "logs", "", "file for the controller's logs (discarded when empty)")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.count > c.charts {
		return fmt.Errorf("-count %d is more than -charts %d", c.count, c.charts)
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "gotk-bench-helm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if c.controller == "" {
		if c.controller, err = harness.BuildController(work); err != nil {
			return err
		}
	}

	repoDir := filepath.Join(work, "charts")
	start := time.Now()
	size, entries, err := generateRepository(repoDir, c)
	if err != nil {
		return err
	}
	fmt.Printf("index.yaml: %.1f MB, %d charts x %d versions = %d entries (generated in %s)\n",
		float64(size)/1e6, c.charts, c.versions, entries, time.Since(start).Round(time.Millisecond))
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		http.FileServer(http.Dir(repoDir)).ServeHTTP(w, r)
	}))
	defer srv.Close()

	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	cl, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	kubeconfig, err := env.Kubeconfig(work)
	if err != nil {
		return err
	}
	opts := harness.ControllerOptions{Binary: c.controller, Kubeconfig: kubeconfig, Controllers: "source", Work: work,
		Concurrent: c.concurrent, Logs: c.logs}
	proc, err := harness.StartController(opts)
	if err != nil {
		return err
	}
	defer proc.Stop()
	pid := proc.Pid

	const ns = "bench"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	// Idle: the controller started, its caches synced, nothing to do.
	time.Sleep(5 * time.Second)
	idle, err := harness.ProcStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	idleHWM, _ := harness.ProcStatus(pid, "VmHWM")
	fmt.Printf("controller idle: VmRSS %s (VmHWM %s)\n", harness.MiB(idle), harness.MiB(idleHWM))

	// Phase 1: the HelmRepository downloads and stores the index.
	harness.ResetPeak(pid)
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}, Timeout: &metav1.Duration{Duration: 5 * time.Minute}},
	}
	start = time.Now()
	if err := cl.Create(ctx, repo); err != nil {
		return err
	}
	if err := harness.Poll(10*time.Minute, 100*time.Millisecond, func() (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
			return false, err
		}
		if runtime.IsFalse(repo, meta.ReadyCondition) && runtime.Reason(repo, meta.ReadyCondition) != meta.ProgressingReason {
			fmt.Printf("  HelmRepository: %s\n", runtime.Message(repo, meta.ReadyCondition))
		}
		return runtime.IsReady(repo) && repo.Status.Artifact != nil, nil
	}); err != nil {
		return fmt.Errorf("HelmRepository not Ready: %w", err)
	}
	repoTime := time.Since(start)
	repoPeak, _ := harness.ProcStatus(pid, "VmHWM")
	repoRSS, _ := harness.ProcStatus(pid, "VmRSS")
	fmt.Printf("HelmRepository Ready after %s (artifact %s, %.1f MB): peak VmHWM %s (idle + %s), VmRSS after %s\n",
		repoTime.Round(time.Millisecond), repo.Status.Artifact.Revision[:19], float64(artifactSize(repo))/1e6,
		harness.MiB(repoPeak), harness.MiB(repoPeak-idle), harness.MiB(repoRSS))

	// Phase 2: N HelmCharts on that repository.
	harness.ResetPeak(pid)
	names := make([]string, c.count)
	for i := range names {
		names[i] = chartName(i)
	}
	start = time.Now()
	if err := harness.Parallel(names, 8, func(name string) error {
		return cl.Create(ctx, &sourcev1.HelmChart{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: sourcev1.HelmChartSpec{Chart: name, Version: "*", Interval: metav1.Duration{Duration: time.Hour},
				SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: repo.Name}},
		})
	}); err != nil {
		return err
	}
	want := newestVersion(c.versions)
	if err := harness.Poll(15*time.Minute, 250*time.Millisecond, func() (bool, error) {
		list := &sourcev1.HelmChartList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		ready := 0
		for i := range list.Items {
			o := &list.Items[i]
			if runtime.IsReady(o) && o.Status.Artifact != nil && o.Status.Artifact.Revision == want {
				ready++
			}
		}
		return ready == c.count, nil
	}); err != nil {
		return fmt.Errorf("HelmCharts not Ready: %w", err)
	}
	chartsTime := time.Since(start)
	chartsPeak, _ := harness.ProcStatus(pid, "VmHWM")
	chartsRSS, _ := harness.ProcStatus(pid, "VmRSS")
	fmt.Printf("%d HelmCharts Ready after %s: peak VmHWM %s (idle + %s), VmRSS after %s\n",
		c.count, chartsTime.Round(time.Millisecond), harness.MiB(chartsPeak), harness.MiB(chartsPeak-idle), harness.MiB(chartsRSS))

	// Phase 3: every chart reconciled again with nothing changed.
	harness.ResetPeak(pid)
	stamp := time.Now().Format(time.RFC3339Nano)
	start = time.Now()
	if err := harness.Parallel(names, 8, func(name string) error {
		o := &sourcev1.HelmChart{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
			return err
		}
		patch := client.MergeFrom(o.DeepCopy())
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[meta.ReconcileRequestAnnotation] = stamp
		return cl.Patch(ctx, o, patch)
	}); err != nil {
		return err
	}
	if err := harness.Poll(15*time.Minute, 250*time.Millisecond, func() (bool, error) {
		list := &sourcev1.HelmChartList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		done := 0
		for i := range list.Items {
			if list.Items[i].Status.LastHandledReconcileAt == stamp && runtime.IsReady(&list.Items[i]) {
				done++
			}
		}
		return done == c.count, nil
	}); err != nil {
		return fmt.Errorf("requested reconciles not handled: %w", err)
	}
	againTime := time.Since(start)
	againPeak, _ := harness.ProcStatus(pid, "VmHWM")
	fmt.Printf("%d HelmCharts reconciled again (nothing changed) after %s: peak VmHWM %s (idle + %s)\n",
		c.count, againTime.Round(time.Millisecond), harness.MiB(againPeak), harness.MiB(againPeak-idle))
	fmt.Printf("HTTP requests to the chart repository: %d\n", served.Load())
	return nil
}

func chartName(i int) string { return fmt.Sprintf("chart-%04d", i) }

// version returns the j-th version of a chart: 0.0.0, 0.1.0, ... 0.9.0,
// 1.0.0, ...
func version(j int) string { return fmt.Sprintf("%d.%d.0", j/10, j%10) }

func newestVersion(versions int) string { return version(versions - 1) }

// generateRepository writes dir/index.yaml and, for the first -count charts, the archive of
// their newest version (whose digest the index gives). The other entries
// name archives that do not exist: nothing downloads them.
func generateRepository(dir string, c config) (int64, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	newest := newestVersion(c.versions)
	digests := map[string]string{}
	for i := range c.count {
		name := chartName(i)
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: newest, Type: "application"},
			Templates: []*common.File{{Name: "templates/configmap.yaml",
				Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: {{ .Values.a | quote }}\n")}},
			Raw: []*common.File{{Name: "values.yaml", Data: []byte("a: b\n")}},
		}
		file, err := chartutil.Save(ch, dir)
		if err != nil {
			return 0, 0, err
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return 0, 0, err
		}
		sum := sha256.Sum256(data)
		digests[name] = hex.EncodeToString(sum[:])
	}
	index := filepath.Join(dir, "index.yaml")
	f, err := os.Create(index)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "apiVersion: v1\ngenerated: \"2026-01-01T00:00:00Z\"\nentries:\n")
	for i := range c.charts {
		name := chartName(i)
		fmt.Fprintf(w, "  %s:\n", name)
		for j := c.versions - 1; j >= 0; j-- {
			v := version(j)
			sum := sha256.Sum256([]byte(name + v))
			digest := hex.EncodeToString(sum[:])
			if d, ok := digests[name]; ok && v == newest {
				digest = d
			}
			fmt.Fprintf(w, `  - annotations:
      category: Infrastructure
      licenses: Apache-2.0
    apiVersion: v2
    appVersion: "%[2]s"
    created: "2026-01-01T00:00:00Z"
    description: A chart generated for the gotk benchmark, with the fields and about the size of an entry of a public repository index.
    digest: %[3]s
    home: https://charts.example.com/%[1]s
    icon: https://charts.example.com/%[1]s/icon.png
    keywords:
    - bench
    - gotk
    - %[1]s
    maintainers:
    - email: bench@example.com
      name: Bench Maintainers
      url: https://example.com
    name: %[1]s
    sources:
    - https://github.com/example/%[1]s
    type: application
    urls:
    - %[1]s-%[2]s.tgz
    version: %[2]s
`, name, v, digest)
		}
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	st, err := os.Stat(index)
	if err != nil {
		return 0, 0, err
	}
	return st.Size(), c.charts * c.versions, nil
}

func artifactSize(repo *sourcev1.HelmRepository) int64 {
	if repo.Status.Artifact == nil || repo.Status.Artifact.Size == nil {
		return 0
	}
	return *repo.Status.Artifact.Size
}
