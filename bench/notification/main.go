// Command notification measures the event throughput of the notification
// controller: gotk-controller --controllers=notification runs as a child
// process against a real API server, clients POST events to its event
// server over loopback as the controllers do, and a loopback webhook counts
// what generic Providers deliver. It prints the figures as Markdown.
//
//	go run ./bench/notification -events 20000 -concurrency 16
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/bench/internal/harness"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

type config struct {
	events      int
	concurrency int
	alerts      []int
	duplicates  int
}

func main() {
	c := config{}
	var alerts string
	flag.IntVar(&c.events, "events", 20000, "Distinct events posted per scenario.")
	flag.IntVar(&c.concurrency, "concurrency", 16, "Clients posting at once.")
	flag.StringVar(&alerts, "alerts", "1,10", "Scenarios: how many Alerts select each event, comma-separated.")
	flag.IntVar(&c.duplicates, "duplicates", 100, "Distinct events behind the duplicate scenario (each posted events/duplicates times).")
	flag.Parse()
	for _, a := range strings.Split(alerts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(a))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bad -alerts:", alerts)
			os.Exit(2)
		}
		c.alerts = append(c.alerts, n)
	}
	ctrllog.SetLogger(logr.Discard())
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sink counts deliveries.
type sink struct {
	srv   *http.Server
	url   string
	count atomic.Int64
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String() + "/hook"}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.count.Add(1)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func run(c config) error {
	work, err := os.MkdirTemp("", "gotk-bench-notification-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := harness.BuildController(work)
	if err != nil {
		return err
	}
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	kubeconfig, err := env.Kubeconfig(work)
	if err != nil {
		return err
	}
	s, err := startSink()
	if err != nil {
		return err
	}
	defer s.srv.Close()

	ctx := context.Background()
	for _, n := range c.alerts {
		ns := fmt.Sprintf("alerts-%d", n)
		if err := setup(ctx, env.Client, ns, n, s.url); err != nil {
			return err
		}
	}

	events := freeAddr()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--controllers=notification", "--events-listen-addr="+events,
		"--health-addr="+freeAddr(), "--metrics-addr=0", "--log-level=error", "--log-encoding=json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + events + "/"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency, MaxIdleConns: c.concurrency}}
	if err := waitServing(hc, url); err != nil {
		return fmt.Errorf("%w\n%s", err, logs.String())
	}
	for _, n := range c.alerts {
		if err := waitAlertsReady(ctx, env.Client, fmt.Sprintf("alerts-%d", n), n); err != nil {
			return err
		}
	}
	baseHWM, _ := procStatus(cmd.Process.Pid, "VmHWM")

	fmt.Printf("Events: %d distinct per scenario, %d clients, one generic Provider to a loopback webhook.\n\n", c.events, c.concurrency)
	fmt.Println("| scenario | deliveries | accepted in | events/s accepted | all delivered in | deliveries/s | controller peak RSS after |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range c.alerts {
		ns := fmt.Sprintf("alerts-%d", n)
		before := s.count.Load()
		start := time.Now()
		codes, err := post(hc, url, c.events, c.concurrency, func(i int) []byte { return eventBody(ns, fmt.Sprintf("app-%d", i%50), i) })
		if err != nil {
			return err
		}
		accepted := time.Since(start)
		if codes[http.StatusAccepted] != c.events {
			return fmt.Errorf("%d Alerts: answers %v, want %d × 202", n, codes, c.events)
		}
		want := before + int64(c.events*n)
		deadline := time.Now().Add(10 * time.Minute)
		for s.count.Load() < want {
			if time.Now().After(deadline) {
				return fmt.Errorf("%d Alerts: %d of %d deliveries after 10 minutes\n%s", n, s.count.Load()-before, c.events*n, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		delivered := time.Since(start)
		hwm, _ := procStatus(cmd.Process.Pid, "VmHWM")
		fmt.Printf("| %d distinct events, %d Alert(s) each | %d | %s | %.0f | %s | %.0f | %s |\n", c.events, n, c.events*n,
			accepted.Round(time.Millisecond), float64(c.events)/accepted.Seconds(), delivered.Round(time.Millisecond),
			float64(c.events*n)/delivered.Seconds(), mib(hwm))
	}
	// Duplicates: the same few events again and again, refused with 429.
	ns := fmt.Sprintf("alerts-%d", c.alerts[0])
	before := s.count.Load()
	start := time.Now()
	codes, err := post(hc, url, c.events, c.concurrency, func(i int) []byte {
		return eventBody(ns, "dup", 1_000_000+i%c.duplicates)
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	want := before + int64(c.duplicates*c.alerts[0])
	for s.count.Load() < want {
		time.Sleep(5 * time.Millisecond)
	}
	hwm, _ := procStatus(cmd.Process.Pid, "VmHWM")
	fmt.Printf("| %d posts of %d distinct events (%d × 202, %d × 429) | %d | %s | %.0f posts/s | - | - | %s |\n",
		c.events, c.duplicates, codes[http.StatusAccepted], codes[http.StatusTooManyRequests], c.duplicates*c.alerts[0],
		took.Round(time.Millisecond), float64(c.events)/took.Seconds(), mib(hwm))
	fmt.Printf("\nController peak RSS before the load (started, caches synced): %s.\n", mib(baseHWM))
	return nil
}

func mib(kb int64) string { return fmt.Sprintf("%d MiB", kb/1024) }

// procStatus reads a "kB" field of /proc/<pid>/status.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New(field + " not found")
}

func setup(ctx context.Context, cl client.Client, ns string, alerts int, url string) error {
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	p := &notificationv1beta3.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sink"},
		Spec:       notificationv1beta3.ProviderSpec{Type: "generic", Address: url},
	}
	if err := cl.Create(ctx, p); err != nil {
		return err
	}
	for i := range alerts {
		a := &notificationv1beta3.Alert{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("a%d", i)},
			Spec: notificationv1beta3.AlertSpec{
				ProviderRef:  meta.LocalObjectReference{Name: "sink"},
				EventSources: []notificationv1beta3.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
			},
		}
		if err := cl.Create(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func waitAlertsReady(ctx context.Context, cl client.Client, ns string, n int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list := &notificationv1beta3.AlertList{}
		ready := 0
		if err := cl.List(ctx, list, client.InNamespace(ns)); err == nil {
			for i := range list.Items {
				if runtime.IsReady(&list.Items[i]) {
					ready++
				}
			}
		}
		if ready == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d Alerts Ready after 3 minutes", ns, ready, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitServing(hc *http.Client, url string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := hc.Post(url, "application/json", bytes.NewReader(eventBody("no-alerts", "probe", -1)))
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("event server not up after 3 minutes: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventBody is event i about a Kustomization, as the kustomize controller
// posts it.
func eventBody(ns, name string, i int) []byte {
	ev := runtime.Event{
		InvolvedObject: corev1.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: ns, Name: name},
		Severity:       runtime.SeverityInfo,
		Timestamp:      metav1.Now(),
		Message:        fmt.Sprintf("ConfigMap/%s/app-%d configured", ns, i),
		Reason:         meta.ReconciliationSucceededReason,
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
		},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "bench",
	}
	b, _ := json.Marshal(ev)
	return b
}

// post sends n events from c clients and counts the answers by status.
func post(hc *http.Client, url string, n, c int, body func(int) []byte) (map[int]int, error) {
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	var firstErr error
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := hc.Post(url, "application/json", bytes.NewReader(body(i)))
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				codes[resp.StatusCode]++
				mu.Unlock()
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return codes, firstErr
}
