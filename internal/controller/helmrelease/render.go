package helmrelease

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	rel "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// Renderer renders the next release of a HelmRelease as the reconciler
// would make it, reading the cluster and writing nothing: the chart of its
// HelmChart's artifact, the values of valuesFrom and spec.values, the
// post-renderers, and Helm's own rendering. gotk build helmrelease and
// gotk diff helmrelease use it. It works with the caller's credentials:
// spec.serviceAccountName is not impersonated, and the Secret of
// spec.kubeConfig is read by the caller.
type Renderer struct {
	r *Reconciler
}

// NewRenderer returns a renderer that connects with cfg and reads the
// cluster through c.
func NewRenderer(cfg *rest.Config, c client.Client) *Renderer {
	return &Renderer{r: &Reconciler{
		Client:    c,
		APIReader: c,
		Clients:   &runtime.ClientFactory{Config: cfg, Scheme: c.Scheme(), Mapper: c.RESTMapper(), Reader: c},
		Fetcher:   &artifact.Fetcher{Retries: 2},
	}}
}

// Chart loads the chart that the next release of obj would use, as the
// reconciler loads it: the artifact of the HelmChart that spec.chart makes
// or that spec.chartRef names, which must have an artifact for its
// current spec. Unlike the reconciler, it neither creates nor updates
// that HelmChart.
func (x *Renderer) Chart(ctx context.Context, obj *helmv2.HelmRelease) (*chart.Chart, error) {
	var key client.ObjectKey
	switch {
	case obj.HasChartTemplate():
		key = client.ObjectKey{Namespace: obj.Spec.Chart.GetNamespace(obj.Namespace), Name: obj.GetHelmChartName()}
	case obj.HasChartRef():
		// The reconciler's own reading of spec.chartRef (a HelmChart, an
		// OCIRepository or an ExternalArtifact), on a copy: it writes
		// nothing but the copy's status.
		s := &scope{obj: obj.DeepCopy()}
		if err := x.r.reconcileChartRef(ctx, s); err != nil {
			return nil, fmt.Errorf("HelmRelease %s/%s: %w", obj.Namespace, obj.Name, err)
		}
		return s.chart, nil
	default:
		return nil, fmt.Errorf("HelmRelease %s/%s: spec: either chart or chartRef must be set", obj.Namespace, obj.Name)
	}
	hc := &sourcev1.HelmChart{}
	if err := x.r.Get(ctx, key, hc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("HelmRelease %s/%s: HelmChart '%s' not found: the controller creates the one of spec.chart at its first reconcile", obj.Namespace, obj.Name, key)
		}
		return nil, fmt.Errorf("HelmRelease %s/%s: read HelmChart '%s': %w", obj.Namespace, obj.Name, key, err)
	}
	if hc.Status.Artifact == nil || hc.Generation != hc.Status.ObservedGeneration {
		return nil, fmt.Errorf("HelmRelease %s/%s: HelmChart '%s' is not ready: it has no artifact for its current spec yet", obj.Namespace, obj.Name, key)
	}
	return x.r.loadChart(ctx, *hc.Status.Artifact, fmt.Sprintf("HelmChart '%s'", key))
}

// LoadChart loads a chart from a local directory or archive, checked as
// the reconciler checks the chart of an artifact.
func LoadChart(path string) (*chart.Chart, error) {
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", path, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart %s is not valid: %w", path, err)
	}
	return ch, nil
}

// Values composes the values of obj exactly as the reconciler does: each
// valuesFrom in order, then spec.values. obj is not changed.
func (x *Renderer) Values(ctx context.Context, obj *helmv2.HelmRelease) (map[string]any, error) {
	s := &scope{obj: obj.DeepCopy()}
	if err := x.r.reconcileValues(ctx, s); err != nil {
		return nil, fmt.Errorf("HelmRelease %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return s.values, nil
}

// RESTConfig returns the connection to the cluster of obj's release: the
// caller's, or that of spec.kubeConfig.
func (x *Renderer) RESTConfig(ctx context.Context, obj *helmv2.HelmRelease) (*rest.Config, error) {
	cfg, _, err := x.r.Clients.RESTConfig(ctx, obj.Namespace, "", obj.Spec.KubeConfig, 0)
	if err != nil {
		return nil, fmt.Errorf("HelmRelease %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return cfg, nil
}

// Runner returns a Helm runner of obj's release, through RESTConfig.
func (x *Renderer) Runner(ctx context.Context, obj *helmv2.HelmRelease) (*release.Runner, error) {
	cfg, err := x.RESTConfig(ctx, obj)
	if err != nil {
		return nil, err
	}
	getter, err := release.NewGetter(cfg, obj.GetReleaseNamespace())
	if err != nil {
		return nil, err
	}
	return release.NewRunner(getter, obj.GetStorageNamespace(), obj.GetReleaseName(), slog.New(slog.DiscardHandler))
}

// Render returns the release that the next install or upgrade of obj to
// ch with values would make: the manifest (post-rendered) and hooks, as
// release.Runner.Preview makes them.
func (x *Renderer) Render(ctx context.Context, obj *helmv2.HelmRelease, ch *chart.Chart, values map[string]any) (*rel.Release, error) {
	runner, err := x.Runner(ctx, obj)
	if err != nil {
		return nil, err
	}
	runner.Render = release.NewPostRender(obj)
	out, err := runner.Preview(ctx, obj, ch, values)
	if err != nil {
		return nil, fmt.Errorf("render release '%s/%s' of HelmRelease %s/%s with chart %s@%s: %s",
			obj.GetReleaseNamespace(), obj.GetReleaseName(), obj.Namespace, obj.Name, ch.Name(), ch.Metadata.Version, cleanError(err))
	}
	return out, nil
}

// ManifestRefs lists the objects of the manifest of release h, as the
// reconciler waits for them (namespaced ones without a namespace are in
// the release's), in the order Helm installs them: by kind, then
// namespace and name.
func ManifestRefs(h *rel.Release, mapper apimeta.RESTMapper) ([]ssa.ObjectRef, error) {
	refs, err := manifestRefs(h, mapper)
	if err != nil {
		return nil, err
	}
	rank := func(kind string) int {
		for i, k := range releaseutil.InstallOrder {
			if k == kind {
				return i
			}
		}
		return len(releaseutil.InstallOrder)
	}
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if ra, rb := rank(a.Kind), rank(b.Kind); ra != rb {
			return ra < rb
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return refs, nil
}
