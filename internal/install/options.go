// Package install holds what `gotk install` puts into a cluster, as Go
// values: the namespace, the CRDs, the RBAC, the controllers' Deployments
// and Services, and the NetworkPolicies. It also applies them with
// server-side apply, waits for them with kstatus, and takes them out again
// (uninstall), so that `gotk bootstrap` can reuse the same steps.
package install

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/version"
)

// Defaults of the install options.
const (
	DefaultNamespace     = "gotk-system"
	DefaultRegistry      = "ghcr.io/gotk-dev"
	DefaultClusterDomain = "cluster.local"
	DefaultLogLevel      = "info"
	// ImageName is the repository name of the controller image under the
	// registry.
	ImageName = "gotk-controller"
	// FieldManager is the server-side apply field manager of the CLI.
	FieldManager = "gotk"
	// AllInOneName names the single Deployment of an --all-in-one install.
	AllInOneName = "gotk-controller"
)

// Ports the controllers listen on inside their pods.
const (
	MetricsPort = 8080
	HealthPort  = 9440
	// StoragePort serves source artifacts (--storage-addr=:9090).
	StoragePort = 9090
	// EventsPort is where the notification controller receives the events
	// that the other controllers POST to --events-addr. It differs from
	// StoragePort so that an all-in-one pod can serve both.
	EventsPort = 9690
	// ReceiverPort is where the notification controller serves Receiver
	// webhooks.
	ReceiverPort = 9292
)

// Labels that every installed object carries.
const (
	PartOfLabel    = "app.kubernetes.io/part-of"
	PartOfValue    = "gotk"
	ComponentLabel = "app.kubernetes.io/component"
	VersionLabel   = "app.kubernetes.io/version"
	NameLabel      = "app.kubernetes.io/name"
	// InstanceLabel holds the namespace gotk was installed into, so that
	// cluster-scoped objects of two installs can be told apart.
	InstanceLabel = "app.kubernetes.io/instance"
)

// Options choose what Generate produces. Start from DefaultOptions.
type Options struct {
	// Namespace gotk runs in.
	Namespace string
	// Components are the controllers to install: a subset of
	// controller.Names.
	Components []string
	// AllInOne runs every component in one Deployment.
	AllInOne bool
	// Registry is the image registry and path, without the image name.
	Registry string
	// Version is the image tag.
	Version string
	// ImagePullSecret names a Secret in Namespace used to pull the image.
	ImagePullSecret string
	// LogLevel is passed to --log-level.
	LogLevel string
	// WatchAllNamespaces is passed to --watch-all-namespaces.
	WatchAllNamespaces bool
	// NetworkPolicy adds the NetworkPolicies.
	NetworkPolicy bool
	// ClusterDomain is the cluster's DNS domain, used in service addresses.
	ClusterDomain string
}

// DefaultOptions returns the defaults: every component in its own
// Deployment, the image tagged with the client's version.
func DefaultOptions() Options {
	return Options{
		Namespace:          DefaultNamespace,
		Components:         controller.Default(),
		Registry:           DefaultRegistry,
		Version:            DefaultVersion(),
		LogLevel:           DefaultLogLevel,
		WatchAllNamespaces: true,
		NetworkPolicy:      true,
		ClusterDomain:      DefaultClusterDomain,
	}
}

// DefaultVersion is the image tag that matches this client: its version,
// or "latest" for a development build.
func DefaultVersion() string {
	v := version.String()
	if v == "" || v == "dev" {
		return "latest"
	}
	return v
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Validate reports every option that cannot produce a working install, and
// puts the components into their canonical order.
func (o *Options) Validate() error {
	var problems []string
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("namespace %q is not a valid namespace name: %s", o.Namespace, strings.Join(errs, "; ")))
	}
	if len(o.Components) == 0 {
		problems = append(problems, "--components is empty: choose from "+strings.Join(controller.Names, ", "))
	} else if comps, err := controller.Parse(strings.Join(o.Components, ",")); err != nil {
		problems = append(problems, strings.Replace(err.Error(), "--controllers", "--components", 1))
	} else {
		o.Components = comps
		if o.Has("artifactgenerator") && !o.Has("source") {
			problems = append(problems, "--components artifactgenerator runs in the source controller's Deployment, whose artifact storage it shares: add source")
		}
	}
	if o.Registry == "" || strings.ContainsAny(o.Registry, " \t@") {
		problems = append(problems, fmt.Sprintf("--registry %q is not a registry path such as %s", o.Registry, DefaultRegistry))
	}
	o.Registry = strings.TrimSuffix(o.Registry, "/")
	if !tagRE.MatchString(o.Version) {
		problems = append(problems, fmt.Sprintf("--version %q is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)", o.Version))
	}
	switch o.LogLevel {
	case "debug", "info", "error", "trace":
	default:
		problems = append(problems, fmt.Sprintf("--log-level must be debug, info, error or trace, not %q", o.LogLevel))
	}
	if o.ImagePullSecret != "" {
		if errs := validation.IsDNS1123Subdomain(o.ImagePullSecret); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("--image-pull-secret %q is not a valid Secret name", o.ImagePullSecret))
		}
	}
	if errs := validation.IsDNS1123Subdomain(o.ClusterDomain); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("--cluster-domain %q is not a DNS domain such as %s", o.ClusterDomain, DefaultClusterDomain))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid install options: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Image is the controller image reference.
func (o Options) Image() string {
	return o.Registry + "/" + ImageName + ":" + o.Version
}

// Has reports whether the component is installed.
func (o Options) Has(component string) bool {
	return slices.Contains(o.Components, component)
}

// DeploymentName is the Deployment that runs component. The
// ArtifactGenerator controller runs in the source controller's: it stores
// its artifacts in the same storage, behind the same Service.
func (o Options) DeploymentName(component string) string {
	if o.AllInOne {
		return AllInOneName
	}
	if component == "artifactgenerator" {
		component = "source"
	}
	return component + "-controller"
}

// DeploymentNames lists the Deployments that the options produce.
func (o Options) DeploymentNames() []string {
	if o.AllInOne {
		return []string{AllInOneName}
	}
	names := make([]string, 0, len(o.Components))
	for _, c := range o.Components {
		if c == "artifactgenerator" {
			continue // in the source controller's Deployment
		}
		names = append(names, o.DeploymentName(c))
	}
	return names
}

// versionLabel is Version made safe for a label value.
func (o Options) versionLabel() string {
	v := o.Version
	if len(v) > validation.LabelValueMaxLength {
		v = v[:validation.LabelValueMaxLength]
	}
	return strings.Trim(v, "-_.")
}

// serviceHost is the cluster DNS name of a Service in the gotk namespace,
// fully qualified (trailing dot) so that no search domain is tried.
func (o Options) serviceHost(service string) string {
	return fmt.Sprintf("%s.%s.svc.%s.", service, o.Namespace, o.ClusterDomain)
}
