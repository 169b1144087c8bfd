package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/alert"
	"github.com/gotk-dev/gotk/internal/controller/artifactgenerator"
	"github.com/gotk-dev/gotk/internal/controller/bucket"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/helmchart"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/controller/helmrepository"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/controller/provider"
	"github.com/gotk-dev/gotk/internal/controller/receiver"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// The object commands run against a second control plane: with gotk's CRDs
// installed and the real GitRepository, HelmRepository and HelmChart
// reconcilers running in-process, their artifacts served on loopback. The
// first one (env) stays without CRDs for the install and uninstall tests,
// which delete them. It starts on first use, so that running only the
// install tests does not pay for it.
var (
	objOnce       sync.Once
	objEnvErr     error
	objEnv        *testenv.Env
	objKubeconfig string
	objDir        string
	objCancel     context.CancelFunc
	// controllerLog holds the JSON lines the reconciler logged, as a
	// controller pod would write them.
	controllerLog = &syncBuffer{}
)

// objects returns the control plane with CRDs and controllers, started
// at the first call; it skips t in the unit tier (-short).
func objects(t *testing.T) *testenv.Env {
	t.Helper()
	testenv.Require(t)
	objOnce.Do(func() { objEnvErr = startObjects() })
	if objEnvErr != nil {
		t.Fatalf("start the control plane with controllers: %v", objEnvErr)
	}
	return objEnv
}

func startObjects() error {
	e, err := testenv.Start()
	if err != nil {
		return err
	}
	objEnv = e
	if objDir, err = os.MkdirTemp("", "gotk-cli-objects"); err != nil {
		return err
	}
	if objKubeconfig, err = e.Kubeconfig(objDir); err != nil {
		return err
	}
	// The same encoder settings as runtime.NewLogger's JSON encoding.
	logger := zap.New(zap.WriteTo(controllerLog), zap.Level(zapcore.DebugLevel), zap.JSONEncoder(func(c *zapcore.EncoderConfig) {
		c.TimeKey = "ts"
		c.EncodeTime = zapcore.ISO8601TimeEncoder
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	storage, err := artifact.NewStorage(objDir+"/storage", ln.Addr().String())
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{Scheme: e.Scheme, Logger: logger, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	if err := mgr.Add(&artifact.Server{Listener: ln, Storage: storage}); err != nil {
		return err
	}
	opts := runtime.DefaultOptions()
	// Objects labelled unmanagedLabel are left alone, so that tests can
	// write their status themselves.
	opts.WatchLabelSelector = "!" + unmanagedLabel
	r := &gitrepository.Reconciler{
		Client:            mgr.GetClient(),
		Storage:           storage,
		Recorder:          runtime.NewRecorder(mgr.GetEventRecorderFor("source-controller"), e.Scheme, runtime.RecorderOptions{}),
		Metrics:           runtime.DefaultMetrics,
		DependencyRequeue: time.Second,
		Limits:            artifact.Limits{MaxSize: 8 << 20},
	}
	if err := r.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	helmRepos := &helmrepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: r.Recorder, Metrics: runtime.DefaultMetrics}
	if err := helmRepos.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	charts := &helmchart.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: r.Recorder, Metrics: runtime.DefaultMetrics, DependencyRequeue: time.Second}
	if err := charts.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	receivers := &receiver.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: r.Recorder, Metrics: runtime.DefaultMetrics}
	if err := receivers.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	genCache, err := artifact.NewCache(objDir+"/generator-cache", &artifact.Fetcher{}, 0)
	if err != nil {
		return err
	}
	gens := &artifactgenerator.Reconciler{
		Client: mgr.GetClient(), Storage: storage, Artifacts: genCache, Recorder: r.Recorder, Metrics: runtime.DefaultMetrics,
		DependencyRequeue: time.Second,
	}
	if err := gens.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	ociRepos := &ocirepository.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: r.Recorder, Metrics: runtime.DefaultMetrics}
	if err := ociRepos.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	buckets := &bucket.Reconciler{Client: mgr.GetClient(), Storage: storage, Recorder: r.Recorder, Metrics: runtime.DefaultMetrics}
	if err := buckets.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	if err := alert.IndexAlerts(mgr); err != nil {
		return err
	}
	providers := &provider.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Metrics: runtime.DefaultMetrics, SecretRequeue: time.Second}
	if err := providers.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	alerts := &alert.Reconciler{Client: mgr.GetClient(), Metrics: runtime.DefaultMetrics}
	if err := alerts.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	releases := &helmrelease.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Clients: &runtime.ClientFactory{Config: mgr.GetConfig(), Scheme: mgr.GetScheme(),
			Mapper: mgr.GetRESTMapper(), Reader: mgr.GetAPIReader()},
		Fetcher:  &artifact.Fetcher{},
		Recorder: runtime.NewRecorder(mgr.GetEventRecorderFor("helm-controller"), e.Scheme, runtime.RecorderOptions{}),
		Metrics:  runtime.DefaultMetrics,
		Options:  opts,
	}
	if err := releases.SetupWithManager(mgr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	objCancel = cancel
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}

// stopObjects stops the second control plane, if it started.
func stopObjects() {
	if objCancel != nil {
		objCancel()
	}
	if objEnv != nil {
		_ = objEnv.Stop()
	}
	if objDir != "" {
		os.RemoveAll(objDir)
	}
}

// syncBuffer is a buffer that goroutines may write while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// unmanagedLabel marks the sources that the in-process controller
// ignores.
const unmanagedLabel = "gotk-test/unmanaged"

// kgotk runs the CLI in-process against the control plane with
// controllers.
func kgotk(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	objects(t)
	return kgotkWith(t, objKubeconfig, stdin, args...)
}

// kgotkWith runs the CLI with another kubeconfig.
func kgotkWith(t *testing.T, kubeconfig, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig="+kubeconfig)
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// background runs the CLI until stop is called, for --watch and -f; the
// output may be read while it runs.
type background struct {
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	done        chan int
}

func kgotkBackground(t *testing.T, args ...string) *background {
	t.Helper()
	objects(t)
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{out: &syncBuffer{}, errOut: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args = append(args, "--kubeconfig="+objKubeconfig)
	go func() { b.done <- runContext(ctx, args, strings.NewReader(""), b.out, b.errOut) }()
	t.Cleanup(cancel)
	return b
}

// stop ends the command and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not stop after its context ended")
		return -1
	}
}

// eventually polls cond until it holds, failing after two minutes with
// what describe says.
func eventually(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen:\n%s", what, describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fixedNamespace creates a namespace with a fixed name (for golden files,
// whose output names it), and deletes the test's objects in it at the
// end. The control plane lives for one test run, so the name is free.
func fixedNamespace(t *testing.T, name string) string {
	t.Helper()
	e := objects(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return name
}

// setStatus writes an object's status through the status subresource, as
// a controller would; status is merged into the object read from the
// cluster, and observedGeneration is set to its generation.
func setStatus(t *testing.T, k gotkKind, ns, name string, status map[string]any) *unstructured.Unstructured {
	t.Helper()
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	u := newObject(k)
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	st := map[string]any{"observedGeneration": u.GetGeneration()}
	for key, v := range status {
		st[key] = v
	}
	// Round-trip through JSON so that ints are int64 as unstructured wants.
	data, _ := json.Marshal(st)
	var clean map[string]any
	_ = json.Unmarshal(data, &clean)
	u.Object["status"] = clean
	if err := e.Client.Status().Update(ctx, u); err != nil {
		t.Fatalf("set status of %s %s/%s: %v", k.Kind(), ns, name, err)
	}
	return u
}

// readyCondition is a Ready condition with a fixed time, for statuses set
// by tests.
func readyCondition(status, reason, message string) map[string]any {
	return map[string]any{
		"type": "Ready", "status": status, "reason": reason, "message": message,
		"lastTransitionTime": "2026-01-02T03:04:05Z",
	}
}

// contextKubeconfig writes a copy of the test kubeconfig whose context sets
// namespace.
func contextKubeconfig(t *testing.T, namespace string) string {
	t.Helper()
	objects(t)
	cfg, err := clientcmd.LoadFromFile(objKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = namespace
	path := t.TempDir() + "/kubeconfig"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
