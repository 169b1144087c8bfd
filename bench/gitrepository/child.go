package main

// The child side: one process per measured gotk reconcile, so that its
// peak memory is its own.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	gotkruntime "github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/scheme"
)

type childArgs struct {
	on                        bool
	kubeconfig, name, storage string
	cpuProfile, memProfile    string
}

type childResult struct {
	Nanos    int64  `json:"nanos"`
	CPUNanos int64  `json:"cpuNanos"`
	BaseRSS  int64  `json:"baseRSS"`
	PeakRSS  int64  `json:"peakRSS"`
	HeapPeak uint64 `json:"heapPeak"`
	Alloc    uint64 `json:"alloc"`
	Ready    bool   `json:"ready"`
	Message  string `json:"message"`
	Revision string `json:"revision"`
	Size     int64  `json:"size"`
}

// runChild reconciles the object once, as the controller would, and
// prints the figures as JSON.
func runChild(a childArgs) error {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", a.kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	st, err := artifact.NewStorage(a.storage, "127.0.0.1:9090")
	if err != nil {
		return err
	}
	r := &gitrepository.Reconciler{
		Client:            c,
		Storage:           st,
		Metrics:           gotkruntime.NewMetrics(prometheus.NewRegistry()),
		DependencyRequeue: time.Second,
	}
	key := client.ObjectKey{Namespace: namespace, Name: a.name}
	// Warm the client up as a running controller would be: its first
	// request builds the REST mapping.
	obj := &sourcev1.GitRepository{}
	if err := c.Get(ctx, key, obj); err != nil {
		return err
	}
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	base := peakRSS()
	stopSampling := sampleHeap()
	cpuBefore := cpuTime()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, rerr := r.Reconcile(ctx, ctrl.Request{NamespacedName: key})
	took := time.Since(start)
	cpu := cpuTime() - cpuBefore
	heapPeak := stopSampling()
	if a.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if a.memProfile != "" {
		f, err := os.Create(a.memProfile)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
		f.Close()
	}
	if err := c.Get(ctx, key, obj); err != nil {
		return err
	}
	res := childResult{
		Nanos:    took.Nanoseconds(),
		CPUNanos: cpu.Nanoseconds(),
		BaseRSS:  base,
		HeapPeak: heapPeak,
		PeakRSS:  peakRSS(),
		Alloc:    after.TotalAlloc - before.TotalAlloc,
		Ready:    rerr == nil && gotkruntime.IsReady(obj),
		Message:  gotkruntime.Message(obj, meta.ReadyCondition),
	}
	if rerr != nil {
		res.Message = rerr.Error()
	}
	if art := obj.Status.Artifact; art != nil {
		res.Revision = art.Revision
		if art.Size != nil {
			res.Size = *art.Size
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// sampleHeap samples the bytes of live and not yet swept heap objects
// every 2 ms until the returned function is called, which returns the
// highest sample.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}

// cpuTime is the user and system time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set so far (VmHWM), in bytes.
// Unlike getrusage, it starts afresh at exec, so the parent's size does
// not leak into the figure.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
