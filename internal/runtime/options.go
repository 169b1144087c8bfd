package runtime

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gotk-dev/gotk/api/meta"
)

// Options are the flags that every gotk controller shares, so that each
// exposes the same ones whatever it reconciles.
type Options struct {
	// WatchAllNamespaces makes the controllers watch every namespace;
	// when false, only the namespace they run in (RUNTIME_NAMESPACE).
	WatchAllNamespaces bool
	// WatchLabelSelector restricts the watched objects, for sharding.
	WatchLabelSelector string
	// Concurrent is how many objects of each kind reconcile at once.
	Concurrent int
	// RequeueDependency is how long an object waits before it checks
	// again whether its dependencies are ready.
	RequeueDependency time.Duration
	KubeAPIQPS        float32
	KubeAPIBurst      int
	MetricsAddr       string
	HealthAddr        string
	PprofAddr         string
	LeaderElect       bool
	LogLevel          string
	LogEncoding       string
	// EventsAddr is the URL events are POSTed to.
	EventsAddr string
	// StoragePath is where source controllers keep artifacts.
	StoragePath string
	// StorageAddr is where the artifact HTTP server listens.
	StorageAddr string
	// StorageAdvAddr is the host:port that artifact URLs name.
	StorageAdvAddr string
	// DefaultServiceAccount is impersonated when an object names none.
	DefaultServiceAccount string
	// NoCrossNamespaceRefs refuses references to other namespaces.
	NoCrossNamespaceRefs bool
	// NoRemoteBases refuses kustomize bases fetched over the network.
	NoRemoteBases bool
	// InsecureKubeconfigTLS allows the kubeconfigs of spec.kubeConfig to
	// skip the verification of the server's certificate.
	InsecureKubeconfigTLS bool
	// WatchConfigsLabelSelector selects the ConfigMaps and Secrets whose
	// changes reconcile the objects that reference them at once.
	WatchConfigsLabelSelector string
	// DisableConfigWatchers turns those watches off.
	DisableConfigWatchers bool
	// FeatureGates holds the --feature-gates that were set; see Feature.
	FeatureGates FeatureGates
}

// DefaultOptions returns the defaults of every flag.
func DefaultOptions() Options {
	return Options{
		WatchAllNamespaces: true,
		Concurrent:         8,
		RequeueDependency:  30 * time.Second,
		KubeAPIQPS:         200,
		KubeAPIBurst:       400,
		MetricsAddr:        ":8080",
		HealthAddr:         ":9440",
		LogLevel:           "info",
		LogEncoding:        "json",
		StoragePath:        "/data",
		StorageAddr:        ":9090",

		WatchConfigsLabelSelector: meta.WatchLabel + "=" + meta.WatchLabelEnabled,
	}
}

// BindFlags registers the options on fs, with o's values as defaults.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.WatchAllNamespaces, "watch-all-namespaces", o.WatchAllNamespaces,
		"Watch objects in every namespace; when false, only in the namespace the controller runs in (RUNTIME_NAMESPACE).")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", o.WatchLabelSelector,
		"Reconcile only objects whose labels match this selector, to shard objects between controller instances.")
	fs.IntVar(&o.Concurrent, "concurrent", o.Concurrent, "How many objects of each kind reconcile at once.")
	fs.DurationVar(&o.RequeueDependency, "requeue-dependency", o.RequeueDependency,
		"How long an object waits before it checks again whether its dependencies are ready.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second the controller may send to the API server.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of requests the controller may send to the API server.")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "Address the Prometheus metrics endpoint listens on; 0 disables it.")
	fs.StringVar(&o.HealthAddr, "health-addr", o.HealthAddr, "Address the /healthz and /readyz probes listen on.")
	fs.StringVar(&o.PprofAddr, "pprof-addr", o.PprofAddr,
		"Address the Go profiles (/debug/pprof/) listen on, such as 127.0.0.1:6060; empty disables them.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect,
		"Elect a leader among replicas so that only one reconciles at a time.")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "Log level: debug, info or error (or trace).")
	fs.StringVar(&o.LogEncoding, "log-encoding", o.LogEncoding, "Log encoding: json or console.")
	fs.StringVar(&o.EventsAddr, "events-addr", o.EventsAddr,
		"URL of the notification endpoint that events are POSTed to, such as http://notification-controller.gotk-system.svc/; empty disables it.")
	fs.StringVar(&o.StoragePath, "storage-path", o.StoragePath, "Directory where source controllers keep artifacts.")
	fs.StringVar(&o.StorageAddr, "storage-addr", o.StorageAddr, "Address the artifact HTTP server listens on.")
	fs.StringVar(&o.StorageAdvAddr, "storage-adv-addr", o.StorageAdvAddr,
		"host:port that artifact URLs name; defaults to the pod's hostname and the port of --storage-addr.")
	fs.StringVar(&o.DefaultServiceAccount, "default-service-account", o.DefaultServiceAccount,
		"Service account impersonated for objects that name none (multi-tenancy lockdown).")
	fs.BoolVar(&o.NoCrossNamespaceRefs, "no-cross-namespace-refs", o.NoCrossNamespaceRefs,
		"Refuse references to sources and dependencies in other namespaces (multi-tenancy lockdown).")
	fs.BoolVar(&o.NoRemoteBases, "no-remote-bases", o.NoRemoteBases,
		"Refuse kustomize bases fetched over the network; only files of the artifact may be used.")
	fs.BoolVar(&o.InsecureKubeconfigTLS, "insecure-kubeconfig-tls", o.InsecureKubeconfigTLS,
		"Allow the kubeconfigs of spec.kubeConfig to skip TLS verification (insecure-skip-tls-verify); they are refused otherwise.")
	fs.StringVar(&o.WatchConfigsLabelSelector, "watch-configs-label-selector", o.WatchConfigsLabelSelector,
		"ConfigMaps and Secrets matching this selector reconcile the objects that reference them as soon as they change.")
	fs.BoolVar(&o.DisableConfigWatchers, "disable-config-watchers", o.DisableConfigWatchers,
		"Do not watch ConfigMaps and Secrets: changes to them are seen at the next interval.")
	if o.FeatureGates == nil {
		o.FeatureGates = FeatureGates{}
	}
	fs.Var(o.FeatureGates, "feature-gates", "Features to turn on or off, as Name=true|false pairs separated by commas; known: "+knownGateList()+".")
}

// Validate reports flag values that cannot work.
func (o *Options) Validate() error {
	var problems []string
	if o.Concurrent < 1 {
		problems = append(problems, "--concurrent must be at least 1")
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst <= 0 {
		problems = append(problems, "--kube-api-qps and --kube-api-burst must be positive")
	}
	switch o.LogEncoding {
	case "json", "console":
	default:
		problems = append(problems, fmt.Sprintf("--log-encoding must be json or console, not %q", o.LogEncoding))
	}
	switch o.LogLevel {
	case "debug", "info", "error", "trace":
	default:
		problems = append(problems, fmt.Sprintf("--log-level must be debug, info, error or trace, not %q", o.LogLevel))
	}
	if !o.DisableConfigWatchers {
		if _, err := o.ConfigSelector(); err != nil || strings.TrimSpace(o.WatchConfigsLabelSelector) == "" {
			problems = append(problems, fmt.Sprintf("--watch-configs-label-selector %q is not a label selector, such as %s=%s", o.WatchConfigsLabelSelector, meta.WatchLabel, meta.WatchLabelEnabled))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid flags: %s", strings.Join(problems, "; "))
	}
	return nil
}
