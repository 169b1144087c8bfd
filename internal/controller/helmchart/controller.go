// Package helmchart reconciles HelmChart objects. A chart from an HTTP
// HelmRepository is looked up in the repository's index artifact (through
// a cache shared by all charts, see helm.IndexCache): the newest version
// in spec.version's SemVer range is downloaded and checked. A chart from
// an OCI HelmRepository is pulled with Helm's registry client at the
// newest tag in range. A chart from a GitRepository or Bucket is a
// directory of the source artifact, packaged with its dependencies. The
// chart is loaded with the Helm SDK, repackaged with spec.valuesFiles
// merged into its values when there are any, and stored as
// <name>-<version>.tgz.
package helmchart

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles HelmChart objects.
type Reconciler struct {
	client.Client
	Storage  *artifact.Storage
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	// DependencyRequeue is how long to wait for a source that has no
	// artifact yet.
	DependencyRequeue time.Duration
	// Indexes caches the chart entries of repository indexes; nil makes
	// one of helm.DefaultIndexCacheSize in SetupWithManager.
	Indexes *helm.IndexCache
	// Fetcher downloads GitRepository and Bucket artifacts; nil uses the
	// zero Fetcher.
	Fetcher *artifact.Fetcher

	// shard selects the HelmCharts of this controller's shard
	// (--watch-label-selector); nil selects all.
	shard labels.Selector
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj *sourcev1.HelmChart
	// repo is the HelmRepository of a chart from one; source the
	// GitRepository or Bucket artifact of a chart from a directory.
	repo   *sourcev1.HelmRepository
	source *meta.Artifact
	// sourceRevision is the revision of the source artifact (none for an
	// OCI repository).
	sourceRevision string
	// chartName and revision are the chart's name and the version the
	// artifact gets (with Flux's metadata suffixes).
	chartName string
	revision  string
	upToDate  bool
	dir       string
	// packaged is the archive to store; valuesFound the values files
	// merged into it.
	packaged    string
	valuesFound []string
}

// Reconcile brings one HelmChart's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &sourcev1.HelmChart{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	prevRevision := ""
	if obj.Status.Artifact != nil {
		prevRevision = obj.Status.Artifact.Revision
	}
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, sourcev1.HelmChartKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}

	s := &scope{obj: obj}
	defer func() {
		r.summarize(s, retErr)
		r.announce(s, retErr, before.Ready, before.Message, prevRevision)
		result, retErr = runtime.Ending{Kind: sourcev1.HelmChartKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	}()

	return ctrl.Result{}, runtime.Phases(ctx, 0, s,
		r.reconcileStorage,
		r.reconcileSource,
		r.reconcileChart,
		r.reconcileArtifact,
	)
}

// reconcileStorage notices an artifact that vanished from storage and
// trims old artifacts.
func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.HelmChartKind, s.obj, s.obj.Status.Artifact)
}

// buildFailed marks BuildFailed: the chart came but cannot be used. A new
// chart version, or a spec change, is needed: the next interval retries.
func buildFailed(obj *sourcev1.HelmChart, err error) error {
	runtime.MarkTrue(obj, meta.BuildFailedCondition, sourcev1.ChartPackageFailedReason, "%s", err)
	return runtime.Failed(sourcev1.ChartPackageFailedReason, err)
}

// reconcileArtifact stores the chart archive.
func (r *Reconciler) reconcileArtifact(_ context.Context, s *scope) error {
	obj := s.obj
	if s.upToDate {
		obj.Status.URL = obj.Status.Artifact.URL
		obj.Status.ObservedSourceArtifactRevision = s.sourceRevision
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact: revision '%s'", s.revision)
		return nil
	}
	ref := artifact.RefFor(sourcev1.HelmChartKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	art, err := r.Storage.NewArtifact(ref, s.revision, s.chartName+"-"+s.revision+".tgz")
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	f, err := os.Open(s.packaged)
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	err = r.Storage.Copy(&art, f)
	f.Close()
	if err != nil {
		runtime.MarkTrue(obj, meta.StorageOperationFailedCondition, meta.StorageOperationFailedReason, "%s", err)
		return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
	}
	runtime.Delete(obj, meta.StorageOperationFailedCondition)
	obj.Status.Artifact = &art
	obj.Status.URL = art.URL
	obj.Status.ObservedChartName = s.chartName
	obj.Status.ObservedSourceArtifactRevision = s.sourceRevision
	obj.Status.ObservedValuesFiles = s.valuesFound
	runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact: revision '%s'", art.Revision)
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctrl.Log.WithValues("helmchart", obj.Namespace+"/"+obj.Name).Info("garbage collection failed", "error", err.Error())
	}
	return nil
}

// summarize sets Ready, Reconciling and Stalled from the outcome. A
// failure never removes the last good artifact.
func (r *Reconciler) summarize(s *scope, err error) {
	obj := s.obj
	if err != nil {
		runtime.MarkOutcome(obj, err, meta.FailedReason)
		return
	}
	runtime.MarkReady(obj, sourcev1.ChartPullSucceededReason, "pulled '%s' chart with version '%s'",
		obj.Status.ObservedChartName, obj.Status.Artifact.Revision)
}

// announce records an event for a new artifact, a recovery or a new
// failure, and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(s *scope, err error, wasReady bool, prevMessage, prevRevision string) {
	obj := s.obj
	if r.Recorder == nil {
		return
	}
	if err != nil {
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != prevMessage || wasReady {
			r.Recorder.Eventf(obj, nil, runtime.SeverityError, runtime.ReasonOf(err, meta.FailedReason), "%s", msg)
		}
		return
	}
	art := obj.Status.Artifact
	switch {
	case art.Revision != prevRevision:
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision, "digest": art.Digest},
			runtime.SeverityInfo, sourcev1.ChartPullSucceededReason, "pulled '%s' chart with version '%s'", obj.Status.ObservedChartName, art.Revision)
	case !wasReady && prevMessage != "" && !strings.HasPrefix(prevMessage, "reconciliation in progress"):
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityInfo, meta.SucceededReason,
			"stored artifact: revision '%s' again", art.Revision)
	}
}
