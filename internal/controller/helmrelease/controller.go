// Package helmrelease reconciles HelmRelease objects: it makes the
// HelmChart that spec.chart describes (or reads the one spec.chartRef
// names), fetches the chart artifact, composes the values, and brings the
// Helm release to the desired chart and values with the Helm SDK,
// impersonating the HelmRelease's service account. What to do next
// (install, upgrade, test, remediate, nothing) is decided by
// internal/helm/release from the release in storage; this package keeps
// the reconcile skeleton and the status.
package helmrelease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	rel "helm.sh/helm/v4/pkg/release/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// Reconciler reconciles HelmRelease objects.
type Reconciler struct {
	client.Client
	// APIReader reads the ConfigMaps and Secrets of valuesFrom directly:
	// the controller caches none of their contents.
	APIReader client.Reader
	// Clients builds the connection of each HelmRelease: impersonating
	// its service account, or to a remote cluster, with the rules the
	// Kustomization follows.
	Clients  *runtime.ClientFactory
	Fetcher  *artifact.Fetcher
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	Options  runtime.Options

	// Health watches the objects of the releases being waited for; their
	// waits hold no worker. SetupWithManager makes one when nil.
	Health *health.Watcher
	// Mapper tells namespaced kinds from cluster-scoped ones.
	Mapper apimeta.RESTMapper
	// Capabilities are those of the controller's cluster, shared by the
	// releases in it; SetupWithManager sets them, and nil reads discovery
	// for each action.
	Capabilities *release.Capabilities

	charts   chartCache
	selector labels.Selector

	// drift remembers the objects of the releases in the controller's
	// cluster that drift detection found in sync, so that it dry-runs
	// only those that changed since.
	driftOnce  sync.Once
	driftCache *ssa.Cache
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj      *helmv2.HelmRelease
	chartObj *sourcev1.HelmChart
	chart    *chart.Chart
	values   map[string]any
	digest   string
	revision string
	force    bool
	runner   *release.Runner
	// history is the release's versions as syncHistory last read them,
	// for the next step of reconcileRelease; nil when it must read them.
	history   []*rel.Release
	before    runtime.Before
	lastError error
}

// Reconcile brings one HelmRelease's release to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &helmv2.HelmRelease{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.selects(obj) {
		return ctrl.Result{}, nil
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	patcher, began, proceed, err := runtime.Begin(ctx, r.Client, obj, helmv2.HelmReleaseKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}
	s := &scope{obj: obj, before: began}
	if obj.ShouldHandleResetRequest() {
		obj.Status.ClearFailures()
	}
	s.force = obj.ShouldHandleForceRequest()
	defer func() {
		if retErr != nil && !isHealthWait(retErr) && r.Health != nil {
			r.Health.Stop(req.NamespacedName)
		}
		r.summarize(s, retErr)
		keepTransitionTimes(began.Conditions, obj.Status.Conditions)
		if err := patcher.Patch(ctx, obj, runtime.WithObservedGeneration()); err != nil {
			retErr = errors.Join(retErr, err)
		}
		r.Metrics.RecordObject(helmv2.HelmReleaseKind, obj, false)
		r.Metrics.ObserveDuration(helmv2.HelmReleaseKind, start)
		result, retErr = r.result(obj, retErr)
	}()
	for _, phase := range []func(context.Context, *scope) error{
		r.reconcileDependencies,
		r.reconcileChart,
		r.reconcileValues,
		r.reconcileRelease,
	} {
		if err := phase(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// result requeues after the interval on success; waiting errors after
// their delay; a stalled release waits for a change; other failures go to
// controller-runtime's backoff.
func (r *Reconciler) result(obj *helmv2.HelmRelease, err error) (ctrl.Result, error) {
	if runtime.IsStalling(err) {
		return ctrl.Result{}, nil
	}
	return runtime.Result(err, obj.GetRequeueAfter())
}

// selects reports whether obj matches --watch-label-selector.
func (r *Reconciler) selects(obj *helmv2.HelmRelease) bool {
	return r.selector == nil || r.selector.Matches(labels.Set(obj.Labels))
}

// forget drops what the reconciler holds for a HelmRelease that is gone.
func (r *Reconciler) forget(key types.NamespacedName) {
	if r.Metrics != nil {
		r.Metrics.Forget(helmv2.HelmReleaseKind, key.Namespace, key.Name)
	}
	if r.Health != nil {
		r.Health.Stop(key)
	}
}

// chartCache keeps the chart archives that were downloaded, by digest:
// many HelmReleases of one chart version fetch it once.
type chartCache struct {
	mu    sync.Mutex
	files map[string][]byte
	order []string
}

const chartCacheSize = 32

func (c *chartCache) get(digest string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.files[digest]
	return b, ok
}

func (c *chartCache) put(digest string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string][]byte{}
	}
	if _, ok := c.files[digest]; ok {
		return
	}
	c.files[digest] = data
	c.order = append(c.order, digest)
	if len(c.order) > chartCacheSize {
		delete(c.files, c.order[0])
		c.order = c.order[1:]
	}
}

// loadChart returns the chart of the artifact, downloading it (digest
// checked) unless the cache has it. Each call loads a fresh chart: Helm
// actions change the chart they are given.
func (r *Reconciler) loadChart(ctx context.Context, art meta.Artifact, source string) (*chart.Chart, error) {
	data, ok := r.charts.get(art.Digest)
	if !ok {
		dir, err := os.MkdirTemp("", "helmrelease-chart-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		file := filepath.Join(dir, "chart.tgz")
		if err := r.Fetcher.Download(ctx, art, file); err != nil {
			return nil, fmt.Errorf("fetch artifact of %s (revision %s): %w", source, art.Revision, err)
		}
		if data, err = os.ReadFile(file); err != nil {
			return nil, err
		}
		r.charts.put(art.Digest, data)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("artifact of %s (revision %s) is not a chart: %w", source, art.Revision, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart of %s (revision %s) is not valid: %w", source, art.Revision, err)
	}
	return ch, nil
}

// newRunner returns the Helm action runner of obj: through its identity
// (service account, kubeconfig), installing in the target namespace and
// storing in the storage namespace.
func (r *Reconciler) newRunner(ctx context.Context, obj *helmv2.HelmRelease) (*release.Runner, error) {
	cfg, _, err := r.Clients.RESTConfig(ctx, obj.Namespace, obj.Spec.ServiceAccountName, obj.Spec.KubeConfig, obj.GetRequeueAfter())
	if err != nil {
		return nil, err
	}
	getter, err := release.NewGetter(cfg, obj.GetReleaseNamespace())
	if err != nil {
		return nil, runtime.Failed(helmv2.InitFailedReason, err)
	}
	log := slog.New(slog.DiscardHandler)
	if obj.Spec.KubeConfig == nil {
		getter.Share(r.Mapper, r.Capabilities)
	}
	runner, err := release.NewRunner(getter, obj.GetStorageNamespace(), obj.GetReleaseName(), log)
	if err != nil {
		return nil, runtime.Failed(helmv2.InitFailedReason, err)
	}
	runner.HooksOnly = r.Health != nil && obj.Spec.KubeConfig == nil
	return runner, nil
}
