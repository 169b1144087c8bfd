package runtime

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gotk-dev/gotk/api/meta"
)

func TestFeatureGatesFlag(t *testing.T) {
	o := DefaultOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.BindFlags(fs)
	if o.Feature(StrictPostBuildSubstitutions) {
		t.Fatal("StrictPostBuildSubstitutions must default to off")
	}
	if err := fs.Parse([]string{"--feature-gates=StrictPostBuildSubstitutions=true"}); err != nil {
		t.Fatal(err)
	}
	if !o.Feature(StrictPostBuildSubstitutions) {
		t.Fatal("--feature-gates=StrictPostBuildSubstitutions=true did not turn it on")
	}
	if got := o.FeatureGates.String(); got != "StrictPostBuildSubstitutions=true" {
		t.Errorf("String() = %q", got)
	}
	for arg, want := range map[string]string{
		"--feature-gates=Nope=true":                          `unknown feature gate "Nope"; known: ExternalArtifact (default true), StrictPostBuildSubstitutions (default false)`,
		"--feature-gates=StrictPostBuildSubstitutions=often": `is not true or false`,
		"--feature-gates=StrictPostBuildSubstitutions":       `use Name=true or Name=false`,
	} {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o := DefaultOptions()
		o.BindFlags(fs)
		err := fs.Parse([]string{arg})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", arg, err, want)
		}
	}
}

func TestConfigWatchOptions(t *testing.T) {
	o := DefaultOptions()
	sel, err := o.ConfigSelector()
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set{meta.WatchLabel: meta.WatchLabelEnabled}) || sel.Matches(labels.Set{"app": "web"}) {
		t.Fatal("the default selector must match exactly the reconcile.fluxcd.io/watch=Enabled label")
	}
	c, err := o.CacheOptions("gotk-system")
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultNamespaces != nil {
		t.Errorf("watching all namespaces, DefaultNamespaces = %v", c.DefaultNamespaces)
	}
	for obj, by := range c.ByObject {
		switch obj.(type) {
		case *corev1.ConfigMap, *corev1.Secret:
			if by.Label == nil || by.Label.String() != meta.WatchLabel+"="+meta.WatchLabelEnabled {
				t.Errorf("%T cached with selector %v", obj, by.Label)
			}
		default:
			t.Errorf("unexpected ByObject entry %T", obj)
		}
	}
	if len(c.ByObject) != 2 {
		t.Errorf("ByObject has %d entries, want ConfigMap and Secret", len(c.ByObject))
	}

	o.DisableConfigWatchers = true
	if sel, _ = o.ConfigSelector(); sel.Matches(labels.Set{meta.WatchLabel: meta.WatchLabelEnabled}) {
		t.Error("--disable-config-watchers must match no ConfigMap or Secret")
	}
	if c, _ := o.CacheOptions("x"); c.ByObject != nil {
		t.Error("--disable-config-watchers must leave ConfigMaps and Secrets unwatched")
	}
	o = DefaultOptions()
	o.WatchAllNamespaces = false
	o.WatchConfigsLabelSelector = "a in (b"
	if c, err := o.CacheOptions("tenant"); err == nil {
		t.Errorf("a bad selector was accepted: %+v", c)
	}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--watch-configs-label-selector") {
		t.Errorf("Validate: %v", err)
	}
}
