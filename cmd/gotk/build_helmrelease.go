package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	helmchart "helm.sh/helm/v4/pkg/chart/v2"
	rel "helm.sh/helm/v4/pkg/release/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/helm/release"
)

// helmRenderFlags are the flags of build and diff helmrelease that
// replace parts of the HelmRelease with local files.
type helmRenderFlags struct {
	// chart is a local chart directory or archive that stands for the
	// artifact of the HelmChart.
	chart string
	// values are local values files that stand for spec.values.
	values []string
}

func (f *helmRenderFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.chart, "chart", "", "Local chart directory or packaged chart (.tgz) to render instead of the artifact of the HelmRelease's HelmChart.")
	cmd.Flags().StringArrayVar(&f.values, "values", nil, "Local values file that stands for spec.values (repeatable; later files win); valuesFrom is still read from the cluster.")
	_ = cmd.MarkFlagFilename("chart", "tgz")
	_ = cmd.MarkFlagFilename("values", "yaml", "yml", "json")
}

const helmRenderHelp = `The HelmRelease is read from the cluster, and rendered as the helm controller's
next install or upgrade would render it now: the chart of the artifact of its
HelmChart (the one spec.chart makes, or the one spec.chartRef names), downloaded
from the source controller (its URL must be reachable from where gotk runs);
the values of spec.valuesFrom, read in order from the cluster, then
spec.values; spec.commonMetadata; and Helm's own upgrade (or install, when the
release has no version yet) in server-side dry-run mode, which reads the
cluster (the release in storage, the API versions, the chart's lookup calls)
and writes nothing. It runs with your own credentials, not the HelmRelease's
service account; with spec.kubeConfig, you must be able to read its Secret.

--chart renders a local chart directory or packaged chart instead of the
HelmChart's artifact, and --values local values files instead of spec.values
(valuesFrom still applies). With --chart, a HelmRelease that does not exist
is rendered as a new one with default settings, named NAME in the namespace.`

func newBuildHelmReleaseCmd(c *cli) *cobra.Command {
	var f helmRenderFlags
	var hooks bool
	cmd := &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Print the manifests the next upgrade of a HelmRelease would apply",
		Long: `Render a HelmRelease and print the manifest of the release its next upgrade
would make, as a multi-document YAML stream: the objects of the release, as
Helm stores them (without the app.kubernetes.io/managed-by label and the
meta.helm.sh annotations, which Helm adds as it applies them). --hooks prints
the chart's hooks and tests too.

` + helmRenderHelp + `

The values of Secrets are printed as "***". Nothing is written to the cluster.`,
		Example: `  # The manifests of the next upgrade
  gotk build helmrelease podinfo -n apps

  # With other values, to see what a change would apply
  gotk build hr podinfo -n apps --values ./values.yaml

  # A local chart, with the HelmRelease's values
  gotk build hr podinfo -n apps --chart ./charts/podinfo`,
		Args:              exactlyOneName(helmv2.HelmReleaseKind),
		ValidArgsFunction: c.completeNames(helmReleaseKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
			rr, err := renderHelmRelease(cmd.Context(), c, key, f)
			if err != nil {
				return err
			}
			manifest := rr.release.Manifest
			if hooks {
				manifest = withHooks(rr.release)
			}
			objs, err := manifestObjects(manifest, "the rendered manifest")
			if err != nil {
				return err
			}
			return printManifests(c.out, objs)
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&hooks, "hooks", false, "Also print the chart's hooks and tests, which Helm runs around an action rather than keeping as objects of the release.")
	return cmd
}

// renderedRelease is a HelmRelease rendered as its next release.
type renderedRelease struct {
	hr       *helmv2.HelmRelease
	renderer *helmrelease.Renderer
	release  *rel.Release
}

// renderHelmRelease reads the HelmRelease key and renders its next
// release, with the local chart and values of f when given.
func renderHelmRelease(ctx context.Context, c *cli, key types.NamespacedName, f helmRenderFlags) (*renderedRelease, error) {
	cl, err := c.watchClient()
	if err != nil {
		return nil, err
	}
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	hr := &helmv2.HelmRelease{}
	if err := cl.Get(ctx, key, hr); err != nil {
		switch {
		case apierrors.IsNotFound(err) && f.chart != "":
			c.status.warn("HelmRelease %s not found: rendering %s as a new HelmRelease with default settings", key, f.chart)
			hr = &helmv2.HelmRelease{}
			hr.Name, hr.Namespace = key.Name, key.Namespace
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("HelmRelease %s not found in namespace %s: list them with gotk get helmreleases -n %s, or render a local chart with --chart",
				key.Name, key.Namespace, key.Namespace)
		default:
			return nil, fmt.Errorf("read HelmRelease %s: %w", key, err)
		}
	}
	if len(f.values) > 0 {
		values := map[string]any{}
		for _, file := range f.values {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("--values %s: %w", file, err)
			}
			v, err := release.ParseValues(data, "--values "+file)
			if err != nil {
				return nil, err
			}
			values = release.MergeValues(values, v)
		}
		raw, err := json.Marshal(values)
		if err != nil {
			return nil, fmt.Errorf("--values: %w", err)
		}
		hr.Spec.Values = &meta.JSON{Raw: raw}
	}
	x := helmrelease.NewRenderer(cfg, cl)
	return renderWith(ctx, x, hr, f)
}

// renderWith loads the chart (local, or the HelmChart's artifact) and the
// values, and renders.
func renderWith(ctx context.Context, x *helmrelease.Renderer, hr *helmv2.HelmRelease, f helmRenderFlags) (*renderedRelease, error) {
	var ch *helmchart.Chart
	var err error
	if f.chart != "" {
		ch, err = helmrelease.LoadChart(f.chart)
	} else {
		ch, err = x.Chart(ctx, hr)
	}
	if err != nil {
		return nil, err
	}
	values, err := x.Values(ctx, hr)
	if err != nil {
		return nil, err
	}
	out, err := x.Render(ctx, hr, ch, values)
	if err != nil {
		return nil, err
	}
	return &renderedRelease{hr: hr, renderer: x, release: out}, nil
}

// withHooks returns the manifest of h followed by those of its hooks.
func withHooks(h *rel.Release) string {
	var b strings.Builder
	b.WriteString(h.Manifest)
	hooks := append([]*rel.Hook(nil), h.Hooks...)
	sort.SliceStable(hooks, func(i, j int) bool { return hooks[i].Weight < hooks[j].Weight })
	for _, hook := range hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s\n", hook.Path, hook.Manifest)
	}
	return b.String()
}

// manifestObjects decodes a multi-document YAML manifest, in order,
// leaving out empty documents; what names it in errors.
func manifestObjects(manifest, what string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, fmt.Errorf("decode %s: %w", what, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		out = append(out, u)
	}
}
