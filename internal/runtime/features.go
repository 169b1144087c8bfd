package runtime

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Feature gates the controllers know, with their defaults. Their names are
// Flux's, so that a Flux installation's --feature-gates carry over.
const (
	// StrictPostBuildSubstitutions makes a ${var} with neither a value nor
	// a default a build error instead of an empty string.
	StrictPostBuildSubstitutions = "StrictPostBuildSubstitutions"
	// ExternalArtifact lets a Kustomization's sourceRef (and a
	// HelmRelease's chartRef) name an ExternalArtifact. Flux 2.7's
	// controllers needed it set; gotk has it on, and accepts the flag so
	// that a Flux installation's arguments carry over.
	ExternalArtifact = "ExternalArtifact"
)

var knownGates = map[string]bool{
	StrictPostBuildSubstitutions: false,
	ExternalArtifact:             true,
}

func knownGateList() string {
	names := make([]string, 0, len(knownGates))
	for n, def := range knownGates {
		names = append(names, fmt.Sprintf("%s (default %t)", n, def))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// FeatureGates is the value of --feature-gates: the gates set on the
// command line. It is a pflag.Value; repeating the flag adds to it.
type FeatureGates map[string]bool

// Set parses "Name=true,Other=false", refusing unknown names and values
// that are not booleans.
func (g FeatureGates) Set(value string) error {
	for _, pair := range strings.Split(value, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, v, ok := strings.Cut(pair, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return fmt.Errorf("%q: use Name=true or Name=false", pair)
		}
		if _, known := knownGates[name]; !known {
			return fmt.Errorf("unknown feature gate %q; known: %s", name, knownGateList())
		}
		on, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("feature gate %s: %q is not true or false", name, v)
		}
		g[name] = on
	}
	return nil
}

// String lists the gates that were set, sorted.
func (g FeatureGates) String() string {
	pairs := make([]string, 0, len(g))
	for n, on := range g {
		pairs = append(pairs, fmt.Sprintf("%s=%t", n, on))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// Type names the flag's value kind in --help.
func (g FeatureGates) Type() string { return "mapStringBool" }

// Feature reports whether the named gate is on: as set, or its default.
func (o Options) Feature(name string) bool {
	if on, set := o.FeatureGates[name]; set {
		return on
	}
	return knownGates[name]
}
