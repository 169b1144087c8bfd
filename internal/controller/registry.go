// Package controller wires gotk's reconcilers into a manager. Each
// reconciler lives in a package of its own below this one and registers a
// setup function here under the name that --controllers selects.
package controller

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gotk-dev/gotk/internal/runtime"
)

// Names are the controllers that --controllers may select, in the order
// they start.
var Names = []string{"source", "artifactgenerator", "kustomize", "helm", "notification", "image"}

// Optional are the controllers that "all" (the default) leaves out: they
// run only when --controllers names them. The ArtifactGenerator
// controller is one, as Flux's source-watcher is an extra component that
// `flux install --components-extra=source-watcher` adds.
var Optional = map[string]bool{"artifactgenerator": true}

// Default returns the controllers that "all" selects: Names without the
// Optional ones.
func Default() []string {
	out := make([]string, 0, len(Names))
	for _, n := range Names {
		if !Optional[n] {
			out = append(out, n)
		}
	}
	return out
}

// Deps is what main hands every reconciler: the shared flags, the event
// recorder and the metrics.
type Deps struct {
	Options  runtime.Options
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
}

// Setup adds one controller's reconcilers to mgr.
type Setup func(mgr ctrl.Manager, deps Deps) error

// Kinds are the kinds each controller reconciles.
var Kinds = map[string][]string{
	"source":            {"GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket"},
	"artifactgenerator": {"ArtifactGenerator"},
	"kustomize":         {"Kustomization"},
	"helm":              {"HelmRelease"},
	"notification":      {"Provider", "Alert", "Receiver"},
	"image":             {"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"},
}

// AllInOne is the binary that holds every controller; --controllers picks
// which of them run.
const AllInOne = "gotk-controller"

// Binaries name the binary of each controller that has one of its own. A
// binary links only the libraries of its controllers, so that the helm
// controller, say, does not carry SOPS and the cloud SDKs it brings, nor
// the source controller's Git and S3 clients: each process maps and
// initialises only its own code (docs/design-notes.md).
var Binaries = map[string]string{
	"source":            "gotk-source-controller",
	"artifactgenerator": "gotk-source-controller",
	"kustomize":         "gotk-kustomize-controller",
	"helm":              "gotk-helm-controller",
	"notification":      "gotk-notification-controller",
}

// BinaryOf returns the binary that runs the controllers of one Deployment:
// their own when they share one, else AllInOne.
func BinaryOf(controllers []string) string {
	bin := ""
	for _, c := range controllers {
		b, ok := Binaries[c]
		if !ok || (bin != "" && b != bin) {
			return AllInOne
		}
		bin = b
	}
	if bin == "" {
		return AllInOne
	}
	return bin
}

var setups = map[string][]Setup{}

// Register adds a setup function under a controller name.
func Register(name string, s Setup) {
	setups[name] = append(setups[name], s)
}

// Config is a controller part with flags of its own.
type Config interface {
	BindFlags(fs *pflag.FlagSet)
	// Validate reports flag values that cannot work.
	Validate() error
	Setup(mgr ctrl.Manager, deps Deps) error
}

var configs []Config

// RegisterConfig registers c.Setup under a controller name, and c's flags,
// which only the binaries that hold the controller have.
func RegisterConfig(name string, c Config) {
	Register(name, c.Setup)
	configs = append(configs, c)
}

// BindFlags registers the flags of every registered Config on fs.
func BindFlags(fs *pflag.FlagSet) {
	for _, c := range configs {
		c.BindFlags(fs)
	}
}

// ValidateFlags validates the flags of every registered Config.
func ValidateFlags() error {
	for _, c := range configs {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Registered reports whether this binary holds the controller name.
func Registered(name string) bool { return len(setups[name]) > 0 }

// Parse turns a --controllers value into the list of controllers to run.
// Empty or "all" selects every one but the Optional ones, which are named
// alone or after "all" ("all,artifactgenerator").
func Parse(value string) ([]string, error) {
	value = strings.TrimSpace(value)
	if value == "" || value == "all" {
		return Default(), nil
	}
	known := map[string]bool{}
	for _, n := range Names {
		known[n] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range strings.Split(value, ",") {
		n = strings.TrimSpace(n)
		if n == "all" {
			for _, d := range Default() {
				if !seen[d] {
					seen[d] = true
					out = append(out, d)
				}
			}
			continue
		}
		if !known[n] {
			return nil, fmt.Errorf("unknown controller %q in --controllers: choose from %s", n, strings.Join(Names, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return index(out[i]) < index(out[j]) })
	return out, nil
}

func index(name string) int {
	for i, n := range Names {
		if n == name {
			return i
		}
	}
	return len(Names)
}

// SetupAll adds the reconcilers of each named controller to mgr and
// returns the names that have none yet.
func SetupAll(mgr ctrl.Manager, names []string, deps Deps) (missing []string, err error) {
	for _, n := range names {
		for _, kind := range Kinds[n] {
			deps.Metrics.Init(kind)
		}
		if len(setups[n]) == 0 {
			missing = append(missing, n)
			continue
		}
		for _, s := range setups[n] {
			if err := s(mgr, deps); err != nil {
				return nil, fmt.Errorf("set up %s controller: %w", n, err)
			}
		}
	}
	return missing, nil
}
