package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/kustomization"
	"github.com/gotk-dev/gotk/internal/controller/source"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// startInProcess runs the source and kustomize controllers in this
// process, wired as gotk-controller wires them, so that -cpuprofile can
// see them. Memory figures are then the bench's too: use the separate
// process for those.
func startInProcess(c config, env *testenv.Env, work string) (stop func(), metricsURL string, err error) {
	ports, err := harness.FreePorts(2)
	if err != nil {
		return nil, "", err
	}
	opts := runtime.DefaultOptions()
	opts.StoragePath = filepath.Join(work, "storage")
	opts.StorageAddr = "127.0.0.1:" + ports[0]
	opts.StorageAdvAddr = opts.StorageAddr
	opts.MetricsAddr = "127.0.0.1:" + ports[1]
	if c.concurrent > 0 {
		opts.Concurrent = c.concurrent
	}
	if c.qps > 0 {
		opts.KubeAPIQPS = float32(c.qps)
	}
	if c.burst > 0 {
		opts.KubeAPIBurst = c.burst
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	ctrl.SetLogger(runtime.NewLogger("error", "console"))
	cacheOpts, err := opts.CacheOptions("")
	if err != nil {
		return nil, "", err
	}
	mgr, err := ctrl.NewManager(&cfg, ctrl.Options{Scheme: env.Scheme, Cache: cacheOpts, Client: runtime.ClientOptions(), MapperProvider: runtime.MapperProvider,
		Metrics: metricsserver.Options{BindAddress: opts.MetricsAddr}})
	if err != nil {
		return nil, "", err
	}
	recorder := runtime.NewRecorder(mgr.GetEventRecorderFor("gotk-controller"), mgr.GetScheme(), runtime.RecorderOptions{})
	deps := controller.Deps{Options: opts, Recorder: recorder, Metrics: runtime.DefaultMetrics}
	if err := source.Setup(mgr, deps); err != nil {
		return nil, "", err
	}
	if err := kustomization.Setup(mgr, deps); err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return cancel, "http://" + opts.MetricsAddr + "/metrics", nil
}

// profile starts a CPU profile into path, when set, and returns its stop.
func profile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// heapProfile writes the heap profile of phase into c.heapProfile+"."+phase,
// when asked for: the controller's, from its --pprof-addr, or with
// -in-process the bench's own.
func heapProfile(c config, phase string) error {
	if c.heapProfile == "" {
		return nil
	}
	f, err := os.Create(c.heapProfile + "." + phase)
	if err != nil {
		return err
	}
	defer f.Close()
	if c.inProcess {
		goruntime.GC()
		return pprof.WriteHeapProfile(f)
	}
	resp, err := http.Get("http://" + c.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	_, err = io.Copy(f, resp.Body)
	return err
}
