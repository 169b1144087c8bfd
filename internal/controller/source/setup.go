// Package source sets up the source controller: the artifact storage and
// its HTTP server, shared by every source kind, and the reconcilers of the
// source kinds.
package source

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/bucket"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
	"github.com/gotk-dev/gotk/internal/controller/helmchart"
	"github.com/gotk-dev/gotk/internal/controller/helmrepository"
	"github.com/gotk-dev/gotk/internal/controller/ocirepository"
	"github.com/gotk-dev/gotk/internal/helm"
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

// Setup creates the storage, serves it, and adds the source reconcilers
// with the default Config.
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
	return DefaultConfig().Setup(mgr, deps)
}

// Setup creates the storage, serves it, and adds the source reconcilers.
func (c *Config) Setup(mgr ctrl.Manager, deps controller.Deps) error {
	opts := deps.Options
	adv, err := advertisedAddr(opts.StorageAddr, opts.StorageAdvAddr)
	if err != nil {
		return err
	}
	storage, err := artifact.NewStorage(opts.StoragePath, adv)
	if err != nil {
		return fmt.Errorf("artifact storage at --storage-path=%s: %w", opts.StoragePath, err)
	}
	if err := mgr.Add(&artifact.Server{Addr: opts.StorageAddr, Storage: storage, Log: mgr.GetLogger().WithName("storage")}); err != nil {
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
