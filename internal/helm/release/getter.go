// Package release runs Helm actions for a HelmRelease with the Helm SDK
// (install, upgrade, test, rollback, uninstall, unlock) and decides, as a
// pure function of the release in storage and the desired state, which
// action comes next.
package release

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/storage"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Getter is the RESTClientGetter that every Helm action of one
// HelmRelease goes through: its rest.Config carries the impersonation of
// the service account (or the remote cluster's credentials), and its
// namespace is the release's target namespace.
type Getter struct {
	config    *rest.Config
	namespace string
	discovery discovery.CachedDiscoveryInterface
	mapper    apimeta.RESTMapper
	// capabilities, when set, are the shared ones (see Share).
	capabilities *Capabilities
}

// NewGetter returns a getter for cfg in namespace. Discovery is cached in
// memory for the getter's life: one reconcile.
func NewGetter(cfg *rest.Config, namespace string) (*Getter, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Getter{
		config:    cfg,
		namespace: namespace,
		discovery: cached,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}, nil
}

// Share makes the getter use what the releases of one cluster share:
// mapper for REST mappings instead of one over its own discovery, and caps
// for the Capabilities of the templates instead of reading discovery for
// each action. Either may be nil.
func (g *Getter) Share(mapper apimeta.RESTMapper, caps *Capabilities) {
	if mapper != nil {
		g.mapper = mapper
	}
	g.capabilities = caps
}

// Capabilities are the Kubernetes version and the API versions of one
// cluster, as the templates see them (.Capabilities), shared by the
// actions of all the releases in that cluster. Helm reads them afresh for
// each action: GET /version, /api and /apis, and the parsing of every
// group, which a controller of a thousand releases would repeat a
// thousand times for nothing. Here they are read once and kept until
// Invalidate, which the owner calls when the cluster's APIs change (a
// CustomResourceDefinition or an APIService is created, changed or
// deleted) and a release installs CRDs, and for at most MaxAge.
type Capabilities struct {
	Discovery discovery.DiscoveryInterface
	MaxAge    time.Duration

	mu   sync.Mutex
	caps *common.Capabilities
	at   time.Time
}

// Get returns a copy of the capabilities, read from discovery when they
// are not known or older than MaxAge.
func (c *Capabilities) Get() (*common.Capabilities, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps == nil || time.Since(c.at) > c.MaxAge {
		v, err := c.Discovery.ServerVersion()
		if err != nil {
			return nil, fmt.Errorf("could not get server version from Kubernetes: %w", err)
		}
		versions, err := action.GetVersionSet(c.Discovery)
		if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
			// A group that fails (an APIService without its server) is
			// left out, as Helm does.
			return nil, fmt.Errorf("could not get apiVersions from Kubernetes: %w", err)
		}
		c.caps = &common.Capabilities{
			APIVersions: versions,
			KubeVersion: common.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor},
			HelmVersion: common.DefaultCapabilities.HelmVersion,
		}
		c.at = time.Now()
	}
	out := *c.caps
	out.APIVersions = slices.Clone(c.caps.APIVersions)
	return &out, nil
}

// Invalidate forgets the capabilities: the next Get reads discovery.
func (c *Capabilities) Invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.caps = nil
}

// ToRESTConfig returns a copy of the connection.
func (g *Getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

// ToDiscoveryClient returns the cached discovery client.
func (g *Getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

// ToRESTMapper returns the mapper over the cached discovery.
func (g *Getter) ToRESTMapper() (apimeta.RESTMapper, error) { return g.mapper, nil }

// ToRawKubeConfigLoader returns a loader that knows nothing but the
// namespace: Helm asks it for the default namespace of the objects of the
// release, and must never read a kubeconfig file from the controller's
// disk.
func (g *Getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(),
		&clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// newConfiguration returns the Helm action configuration for getter, with
// release storage as Secrets in storageNamespace.
func newConfiguration(g *Getter, storageNamespace string, log *slog.Logger) (*action.Configuration, error) {
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(log.Handler()))
	if err := cfg.Init(g, storageNamespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	kc, ok := cfg.KubeClient.(*kube.Client)
	if !ok {
		return nil, fmt.Errorf("helm configuration: unexpected Kubernetes client %T", cfg.KubeClient)
	}
	kc.Namespace = g.namespace
	if f, ok := kc.Factory.(cmdutil.Factory); ok {
		kc.Factory = &factory{Factory: f, host: g.config.Host}
	}
	cs, err := kc.Factory.KubernetesClientSet()
	if err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	if g.capabilities != nil {
		if cfg.Capabilities, err = g.capabilities.Get(); err != nil {
			return nil, fmt.Errorf("helm configuration: %w", err)
		}
	}
	cfg.KubeClient = &recordingClient{Client: kc, applied: map[AppliedKey]*unstructured.Unstructured{}}
	store := newSecretStore(cs.CoreV1().Secrets(storageNamespace))
	store.SetLogger(log.Handler())
	cfg.Releases = storage.Init(store)
	cfg.SetHookOutputFunc(func(_, _, _ string) io.Writer { return io.Discard })
	return cfg, nil
}
