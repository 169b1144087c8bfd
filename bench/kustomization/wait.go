package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/testenv"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// runWait is the default scenario, the shape users run: a control plane
// with kube-controller-manager, kube-scheduler and a kwok node (so that
// Deployments really become Available), N Kustomizations in one namespace,
// each with wait: true, timeout 5m, retryInterval 30s and prune: true,
// applying its own ServiceAccount, ConfigMap, Service and Deployment (0
// replicas) named after it; from one GitRepository each (-source=per) or
// from one GitRepository with a directory each (-source=shared). It
// reports the time from the first creation until all are Ready, then the
// time until all have handled a requestedAt with nothing changed and the
// requests that cost, the controller's peak RSS and the CPU time of the
// controller, kube-apiserver and etcd.
func runWait(ctx context.Context, c config, work string) error {
	if c.source != "per" && c.source != "shared" {
		return fmt.Errorf("-source %q: want per or shared", c.source)
	}
	cluster, cl, err := harness.StartCluster(ctx, work, c.kcmQPS)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	env := cluster.Env

	const ns = "bench"
	names := make([]string, c.count)
	for i := range names {
		names[i] = fmt.Sprintf("app-%04d", i)
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
	scratch := filepath.Join(work, "scratch")
	seedStart := time.Now()
	if c.source == "per" {
		if err := harness.Parallel(names, 4, func(name string) error {
			_, err := gs.Seed(gitRoot, name+".git", scratch, map[string]string{"app/objects.yaml": appFiles(name+"-", 1, ns)["app/objects.yaml"]})
			return err
		}); err != nil {
			return err
		}
	} else {
		files := map[string]string{}
		for _, name := range names {
			files["apps/"+name+"/objects.yaml"] = appFiles(name+"-", 1, ns)["app/objects.yaml"]
		}
		if _, err := gs.Seed(gitRoot, "fleet.git", scratch, files); err != nil {
			return err
		}
	}
	fmt.Printf("wait: %d Git repositories seeded in %s\n", map[bool]int{true: c.count, false: 1}[c.source == "per"], time.Since(seedStart).Round(time.Millisecond))

	if c.heapProfile != "" && !c.inProcess {
		ports, err := harness.FreePorts(1)
		if err != nil {
			return err
		}
		c.pprofAddr = "127.0.0.1:" + ports[0]
	}
	ctrlProc, metricsURL, err := startController(c, env, work)
	if err != nil {
		return err
	}
	defer func() {
		_ = ctrlProc.Process.Signal(os.Interrupt)
		_ = ctrlProc.Wait()
	}()
	pid := ctrlProc.Process.Pid
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	rss := sampleRSS(sampleCtx, pid)
	fmt.Printf("controller: %s %s\n", c.controller, c.tuning())

	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	gitRepo := func(name, repo string) *sourcev1.GitRepository {
		return &sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       sourcev1.GitRepositorySpec{URL: srv.RepoURL(repo), Interval: metav1.Duration{Duration: time.Hour}},
		}
	}
	kustomization := func(name string) *kustomizev1.Kustomization {
		src, path := "fleet", "./apps/"+name
		if c.source == "per" {
			src, path = name, "./app"
		}
		return &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: src},
				Path:          path,
				Interval:      metav1.Duration{Duration: time.Hour},
				RetryInterval: &metav1.Duration{Duration: 30 * time.Second},
				Timeout:       &metav1.Duration{Duration: 5 * time.Minute},
				Prune:         true,
				Wait:          true,
			},
		}
	}

	apiBefore, err := harness.APIServerRequests(env.Config)
	if err != nil {
		return err
	}
	ctrlBefore, err := harness.Scrape(metricsURL)
	if err != nil {
		return err
	}
	cpuBefore := harness.CPUSnapshot(pid)
	watchCtx, stopWatch := context.WithTimeout(ctx, 30*time.Minute)
	defer stopWatch()
	readyAt := watchAllReady(watchCtx, cl, ns, c.count, "")
	start := time.Now()
	if c.source == "shared" {
		if err := cl.Create(ctx, gitRepo("fleet", "fleet.git")); err != nil {
			return err
		}
	}
	if err := harness.Parallel(names, 32, func(name string) error {
		if c.source == "per" {
			if err := cl.Create(ctx, gitRepo(name, name+".git")); err != nil {
				return err
			}
		}
		return cl.Create(ctx, kustomization(name))
	}); err != nil {
		return err
	}
	created := time.Since(start)
	res := <-readyAt
	if res.err != nil {
		return res.err
	}
	fmt.Printf("wait (%s): %d Kustomizations x 4 objects, wait: true: all created in %s, all Ready after %s\n",
		c.source, c.count, created.Round(time.Millisecond), res.at.Sub(start).Round(time.Millisecond))
	if err := report(env, metricsURL, pid, rss, "wait", apiBefore, ctrlBefore, cpuBefore); err != nil {
		return err
	}
	if err := heapProfile(c, "ready"); err != nil {
		return err
	}

	// A requested reconcile of every Kustomization, with nothing changed.
	if apiBefore, err = harness.APIServerRequests(env.Config); err != nil {
		return err
	}
	if ctrlBefore, err = harness.Scrape(metricsURL); err != nil {
		return err
	}
	cpuBefore = harness.CPUSnapshot(pid)
	token := strconv.FormatInt(time.Now().UnixNano(), 10)
	handled := watchAll(watchCtx, cl, ns, c.count, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == token
	})
	start = time.Now()
	if err := harness.Parallel(names, 32, func(name string) error {
		k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, token))
		return cl.Patch(ctx, k, client.RawPatch("application/merge-patch+json", patch))
	}); err != nil {
		return err
	}
	res = <-handled
	if res.err != nil {
		return res.err
	}
	fmt.Printf("wait (%s): requested reconcile of all %d with nothing changed: all handled after %s\n",
		c.source, c.count, res.at.Sub(start).Round(time.Millisecond))
	apiAfter, err := harness.APIServerRequests(env.Config)
	if err != nil {
		return err
	}
	fmt.Printf("wait:   writes to the applied objects (API server, dry-runs included): %s\n", appliedWrites(harness.Delta(apiBefore, apiAfter)))
	if err := report(env, metricsURL, pid, rss, "noop", apiBefore, ctrlBefore, cpuBefore); err != nil {
		return err
	}
	return heapProfile(c, "round")
}

// report prints the requests since the snapshots (the API server's by
// verb and resource, which include those of kube-controller-manager, the
// scheduler, kwok and the bench; the controller's by method), the
// controller's peak RSS and the CPU time since the snapshots.
func report(env *testenv.Env, metricsURL string, pid int, rss *rssSampler, phase string, apiBefore, ctrlBefore, cpuBefore map[string]float64) error {
	apiAfter, err := harness.APIServerRequests(env.Config)
	if err != nil {
		return err
	}
	ctrlAfter, err := harness.Scrape(metricsURL)
	if err != nil {
		return err
	}
	hwm, err := peakRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("%s:   controller requests by method: %s\n", phase, harness.ByLabel(harness.Delta(ctrlBefore, ctrlAfter), "rest_client_requests_total", "method"))
	fmt.Printf("%s:   API server requests by verb/resource (all clients): %s\n", phase, harness.APIByVerb(harness.Delta(apiBefore, apiAfter)))
	fmt.Printf("%s:   controller peak RSS (VmHWM) %s%s\n", phase, hwm, rss)
	fmt.Printf("%s:   CPU time: %s\n", phase, harness.CPUSince(cpuBefore, pid))
	return nil
}

// appliedWrites sums the writes (dry-runs included) to the kinds the
// scenario applies, by verb and resource; status writes of their own
// controllers are left out.
func appliedWrites(d map[string]float64) string {
	sums := map[string]float64{}
	for k, v := range d {
		res := harness.LabelValue(k, "resource")
		switch res {
		case "serviceaccounts", "configmaps", "services", "deployments":
		default:
			continue
		}
		verb := harness.LabelValue(k, "verb")
		if verb == "GET" || verb == "LIST" || verb == "WATCH" || harness.LabelValue(k, "subresource") != "" {
			continue
		}
		key := verb + " " + res
		if harness.LabelValue(k, "dry_run") != "" {
			key += " (dry-run)"
		}
		sums[key] += v
	}
	return harness.FormatCounts(sums)
}
