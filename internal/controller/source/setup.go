// Package source sets up the source controller: the artifact storage and
// its HTTP server, shared by every source kind, and the reconcilers of the
// source kinds.
package source

import (
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/artifactgenerator"
	"github.com/gotk-dev/gotk/internal/controller/bucket"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/helmchart"
	"github.com/gotk-dev/gotk/internal/controller/helmrepository"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Config holds the flags of the source controller alone.
type Config struct {
	// HelmIndexMaxSize caps the download of a Helm repository index.
	HelmIndexMaxSize int64
}

// DefaultConfig returns the defaults of the source controller's flags.
func DefaultConfig() *Config {
	return &Config{HelmIndexMaxSize: helm.DefaultIndexMaxSize}
}

// BindFlags registers the source controller's flags on fs.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&c.HelmIndexMaxSize, "helm-index-max-size", c.HelmIndexMaxSize,
		"Largest Helm repository index.yaml, in bytes, that the source controller downloads.")
}

// Validate reports flag values that cannot work.
func (c *Config) Validate() error {
	if c.HelmIndexMaxSize <= 0 {
		return fmt.Errorf("invalid flags: --helm-index-max-size must be positive, not %d", c.HelmIndexMaxSize)
	}
	return nil
}

// Register registers the "source" controller, with its flags, and the
// "artifactgenerator" controller for the binaries that hold them.
func Register() {
	controller.RegisterConfig("source", DefaultConfig())
	controller.Register("artifactgenerator", SetupArtifactGenerator)
}

// Setup creates the storage, serves it, and adds the source reconcilers
// with the default Config.
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
	return DefaultConfig().Setup(mgr, deps)
}

// storages holds the storage of each manager, so that the source and
// ArtifactGenerator controllers of one process share one directory and one
// server.
var storages = struct {
	sync.Mutex
	m map[ctrl.Manager]*artifact.Storage
}{m: map[ctrl.Manager]*artifact.Storage{}}

// SharedStorage returns the artifact storage of mgr, creating it on
// --storage-path and serving it on --storage-addr the first time.
func SharedStorage(mgr ctrl.Manager, opts runtime.Options) (*artifact.Storage, error) {
	storages.Lock()
	defer storages.Unlock()
	if s := storages.m[mgr]; s != nil {
		return s, nil
	}
	adv, err := advertisedAddr(opts.StorageAddr, opts.StorageAdvAddr)
	if err != nil {
		return nil, err
	}
	storage, err := artifact.NewStorage(opts.StoragePath, adv)
	if err != nil {
		return nil, fmt.Errorf("artifact storage at --storage-path=%s: %w", opts.StoragePath, err)
	}
	if err := mgr.Add(&artifact.Server{Addr: opts.StorageAddr, Storage: storage, Log: mgr.GetLogger().WithName("storage")}); err != nil {
		return nil, err
	}
	storages.m[mgr] = storage
	return storage, nil
}

// SetupArtifactGenerator adds the ArtifactGenerator reconciler, which
// stores its artifacts in the same storage as the source reconcilers when
// they run in the same process, and in its own (on --storage-path and
// --storage-addr) when it runs alone.
func SetupArtifactGenerator(mgr ctrl.Manager, deps controller.Deps) error {
	storage, err := SharedStorage(mgr, deps.Options)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gotk-artifactgenerator-sources-")
	if err != nil {
		return fmt.Errorf("artifact cache: %w", err)
	}
	cache, err := artifact.NewCache(dir, &artifact.Fetcher{}, 0)
	if err != nil {
		return fmt.Errorf("artifact cache in %s: %w", dir, err)
	}
	r := &artifactgenerator.Reconciler{
		Client:               mgr.GetClient(),
		Storage:              storage,
		Artifacts:            cache,
		Recorder:             deps.Recorder,
		Metrics:              deps.Metrics,
		NoCrossNamespaceRefs: deps.Options.NoCrossNamespaceRefs,
		DependencyRequeue:    deps.Options.RequeueDependency,
	}
	return r.SetupWithManager(mgr, deps.Options)
}

// Setup creates the storage, serves it, and adds the source reconcilers.
func (c *Config) Setup(mgr ctrl.Manager, deps controller.Deps) error {
	opts := deps.Options
	storage, err := SharedStorage(mgr, opts)
	if err != nil {
		return err
	}
	git := &gitrepository.Reconciler{
		Client:            mgr.GetClient(),
		Storage:           storage,
		Recorder:          deps.Recorder,
		Metrics:           deps.Metrics,
		DependencyRequeue: opts.RequeueDependency,
	}
	if err := git.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	helmRepo := &helmrepository.Reconciler{
		Client:       mgr.GetClient(),
		Storage:      storage,
		Recorder:     deps.Recorder,
		Metrics:      deps.Metrics,
		IndexMaxSize: c.HelmIndexMaxSize,
	}
	if err := helmRepo.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	ociRepo := &ocirepository.Reconciler{
		Client:   mgr.GetClient(),
		Storage:  storage,
		Recorder: deps.Recorder,
		Metrics:  deps.Metrics,
	}
	if err := ociRepo.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	bucketRec := &bucket.Reconciler{
		Client:   mgr.GetClient(),
		Storage:  storage,
		Recorder: deps.Recorder,
		Metrics:  deps.Metrics,
	}
	if err := bucketRec.SetupWithManager(mgr, opts); err != nil {
		return err
	}
	chart := &helmchart.Reconciler{
		Client:            mgr.GetClient(),
		Storage:           storage,
		Recorder:          deps.Recorder,
		Metrics:           deps.Metrics,
		DependencyRequeue: opts.RequeueDependency,
	}
	return chart.SetupWithManager(mgr, opts)
}

// advertisedAddr is --storage-adv-addr, or the hostname with the port of
// --storage-addr.
func advertisedAddr(addr, adv string) (string, error) {
	if adv != "" {
		return adv, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--storage-addr %q: %w", addr, err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("no --storage-adv-addr and no hostname: %w", err)
	}
	return net.JoinHostPort(host, port), nil
}
