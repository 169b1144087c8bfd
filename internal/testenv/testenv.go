// Package testenv runs gotk's tests against a real control plane: the
// kube-apiserver and etcd that hack/kube-binaries.sh builds, started through
// controller-runtime's envtest with gotk's CRDs installed. Each test gets a
// namespace of its own.
//
// "go test -short" is the unit tier: TestMain (Run) starts no control plane
// and needs no Kubernetes binaries, and each test that needs one skips,
// through Require or Env.Namespace. Without -short every test runs.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gotk-dev/gotk/internal/scheme"
)

// Env is a running control plane.
type Env struct {
	env    *envtest.Environment
	Config *rest.Config
	Client client.Client
	Scheme *kruntime.Scheme
}

// Option tunes Start.
type Option func(*envtest.Environment)

// WithoutCRDs starts the control plane with no CRDs installed.
func WithoutCRDs() Option {
	return func(e *envtest.Environment) { e.CRDDirectoryPaths = nil }
}

// WithAPIServerFlag sets a kube-apiserver flag, such as
// "service-cluster-ip-range".
func WithAPIServerFlag(name, value string) Option {
	return func(e *envtest.Environment) {
		e.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
}

// RepoRoot returns the root of the gotk checkout the tests run in.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the directory of the Kubernetes binaries: the
// GOTK_KUBE_ASSETS environment variable, or what hack/kube-binaries.sh
// builds (and caches).
func AssetsDir() (string, error) {
	if Short() {
		// Never build or look for binaries in the unit tier.
		return "", errors.New("the unit tier (go test -short) starts no control plane: call testenv.Require first")
	}
	if d := os.Getenv("GOTK_KUBE_ASSETS"); d != "" {
		return d, nil
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "kube-binaries.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/kube-binaries.sh: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	os.Setenv("GOTK_KUBE_ASSETS", dir)
	return dir, nil
}

// Start starts etcd and kube-apiserver with gotk's CRDs installed and
// established. Stop it when done.
func Start(opts ...Option) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.New(),
	}
	for _, o := range opts {
		o(e)
	}
	cfg, err := e.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	return &Env{env: e, Config: cfg, Client: c, Scheme: e.Scheme}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// Short reports whether the tests run with -short, the unit tier. It may
// be called from TestMain, before the testing package has parsed the
// command line: it parses it first. Outside a test binary (the demo and
// the benchmarks start control planes through this package too) it is
// false.
func Short() bool {
	if !testing.Testing() {
		return false
	}
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}

// Require skips t in the unit tier (-short), where no control plane runs.
// A test that needs the control plane calls it first, unless it starts
// with Env.Namespace, which calls it.
func Require(t testing.TB) {
	t.Helper()
	if Short() {
		t.Skip("needs the control plane, which go test -short does not start")
	}
}

// Run is for TestMain: it starts a control plane, runs the tests and stops
// it. The control plane is handed to the package's tests through set. In
// the unit tier (-short) it starts nothing and does not call set: the
// package's Env stays nil and the tests that need it skip (Require).
func Run(m *testing.M, set func(*Env), opts ...Option) int {
	if Short() {
		return m.Run()
	}
	env, err := Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	set(env)
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop:", err)
	}
	return code
}

// Namespace creates a namespace with a random name for t and deletes it
// when t ends.
//
// On a nil Env, in the unit tier, it skips t (Require); otherwise it fails
// t.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	if e == nil {
		Require(t)
		t.Fatal("testenv: no control plane: TestMain did not start one")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(fmt.Sprintf("%.40s-%s", sanitize(t.Name()), hex.EncodeToString(b)))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Client.Delete(ctx, ns)
	})
	return name
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// Kubeconfig writes a kubeconfig for the control plane's admin user to a
// file in dir and returns its path.
func (e *Env) Kubeconfig(dir string) (string, error) {
	user, err := e.env.ControlPlane.AddUser(envtest.User{Name: "gotk-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}
