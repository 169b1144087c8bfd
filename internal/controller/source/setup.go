// Package source sets up the source controller: the artifact storage and
// its HTTP server, shared by every source kind, and the reconcilers of the
// source kinds.
package source

import (
	"fmt"
	"net"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/controller/gitrepository"
)

// Setup creates the storage, serves it, and adds the source reconcilers.
func Setup(mgr ctrl.Manager, deps controller.Deps) error {
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
	return git.SetupWithManager(mgr, opts)
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
