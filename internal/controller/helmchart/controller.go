// Package helmchart reconciles HelmChart objects. A chart from an HTTP
// HelmRepository is looked up in the repository's index artifact: the
// newest version in spec.version's SemVer range is downloaded, checked,
// loaded with the Helm SDK, repackaged with spec.valuesFiles merged into
// its values when there are any, and stored as <name>-<version>.tgz.
package helmchart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	repo "helm.sh/helm/v4/pkg/repo/v1"

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

	// shard selects the HelmCharts of this controller's shard
	// (--watch-label-selector); nil selects all.
	shard labels.Selector
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj    *sourcev1.HelmChart
	source *sourcev1.HelmRepository
	// version is the chart version chosen in the index.
	version *repo.ChartVersion
	// revision is the version the artifact gets (with +<generation> when
	// values files are merged).
	revision string
	upToDate bool
	dir      string
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
		if err := patcher.Patch(ctx, obj, runtime.WithObservedGeneration()); err != nil {
			retErr = errors.Join(retErr, err)
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
		r.Metrics.RecordObject(sourcev1.HelmChartKind, obj, false)
		r.Metrics.ObserveDuration(sourcev1.HelmChartKind, start)
		result, retErr = runtime.Result(retErr, obj.GetRequeueAfter())
	}()

	for _, phase := range []func(context.Context, *scope) error{
		r.reconcileStorage,
		r.reconcileSource,
		r.reconcileChart,
		r.reconcileArtifact,
	} {
		if err := phase(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// reconcileStorage notices an artifact that vanished from storage and
// trims old artifacts.
func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.HelmChartKind, s.obj, s.obj.Status.Artifact)
}

// reconcileSource finds the HelmRepository and waits for its index.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	ref := obj.Spec.SourceRef
	if ref.Kind != sourcev1.HelmRepositoryKind {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.sourceRef.kind %s is not supported yet: only charts from a HelmRepository are built so far", ref.Kind)
	}
	if obj.Spec.Verify != nil {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.verify is not supported yet: remove it to pull the chart unverified")
	}
	src := &sourcev1.HelmRepository{}
	key := client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}
	if err := r.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue,
				fmt.Errorf("spec.sourceRef: HelmRepository '%s' not found", key))
		}
		return err
	}
	if src.IsOCI() {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.sourceRef: HelmRepository '%s' is of type oci: charts from OCI repositories are not supported yet", key)
	}
	if src.Status.Artifact == nil {
		return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue,
			fmt.Errorf("spec.sourceRef: HelmRepository '%s' has no index artifact yet", key))
	}
	s.source = src
	return nil
}

// reconcileChart picks the version in the index and, unless the stored
// artifact already holds it, downloads and builds it.
func (r *Reconciler) reconcileChart(ctx context.Context, s *scope) error {
	obj, src := s.obj, s.source
	file, err := r.Storage.LocalPath(*src.Status.Artifact)
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	idx, err := helm.LoadIndex(file, fmt.Sprintf("index artifact of HelmRepository '%s/%s'", src.Namespace, src.Name))
	if err != nil {
		return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue, err)
	}
	cv, err := helm.SelectVersion(idx.IndexFile, obj.Spec.Chart, obj.Spec.Version)
	if err != nil {
		var invalid *helm.InvalidRangeError
		if errors.As(err, &invalid) {
			runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.InvalidSpecReason, "%s", err)
			return runtime.Stalling(meta.InvalidSpecReason, err)
		}
		// The chart or a version may appear with the next index, whose
		// artifact reconciles this object.
		runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.ChartPullFailedReason, "%s", err)
		return runtime.Failed(sourcev1.ChartPullFailedReason, err)
	}
	s.version = cv
	s.revision = cv.Version
	if len(obj.Spec.ValuesFiles) > 0 {
		s.revision += "+" + strconv.FormatInt(obj.Generation, 10)
	}
	art := obj.Status.Artifact
	if art != nil && art.Revision == s.revision && obj.Status.ObservedChartName == cv.Name && r.Storage.Exists(*art) {
		s.upToDate = true
		runtime.Delete(obj, meta.FetchFailedCondition)
		runtime.Delete(obj, meta.BuildFailedCondition)
		return nil
	}

	opts, err := helm.RepositoryOptions(ctx, r.Client, src)
	if err != nil {
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
		return runtime.Failed(meta.AuthenticationFailedReason, err)
	}
	if s.dir, err = os.MkdirTemp("", "helmchart-"); err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	pullCtx, cancel := context.WithTimeout(ctx, src.GetTimeout())
	defer cancel()
	downloaded := filepath.Join(s.dir, "download.tgz")
	if err := helm.DownloadChart(pullCtx, src.Spec.URL, cv, opts, downloaded); err != nil {
		reason := sourcev1.ChartPullFailedReason
		var httpErr *helm.HTTPError
		if errors.As(err, &httpErr) && httpErr.IsAuth() {
			reason = meta.AuthenticationFailedReason
		}
		err = fmt.Errorf("pull chart '%s' version %s: %w", cv.Name, cv.Version, err)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
		return runtime.Failed(reason, err)
	}
	runtime.Delete(obj, meta.FetchFailedCondition)

	ch, err := helm.LoadChart(downloaded, fmt.Sprintf("chart '%s' version %s", cv.Name, cv.Version))
	if err == nil && (ch.Name() != cv.Name || ch.Metadata.Version != cv.Version) {
		err = fmt.Errorf("chart '%s' version %s: the archive holds %s version %s", cv.Name, cv.Version, ch.Name(), ch.Metadata.Version)
	}
	if err != nil {
		return buildFailed(obj, err)
	}
	s.packaged = downloaded
	s.valuesFound = nil
	if len(obj.Spec.ValuesFiles) > 0 {
		values, found, err := helm.MergeValuesFiles(ch, obj.Spec.ValuesFiles, obj.Spec.IgnoreMissingValuesFiles)
		if err != nil {
			return buildFailed(obj, err)
		}
		out := filepath.Join(s.dir, "out")
		if s.packaged, err = helm.Repackage(ch, values, s.revision, out); err != nil {
			return buildFailed(obj, fmt.Errorf("package chart '%s' with spec.valuesFiles: %w", cv.Name, err))
		}
		s.valuesFound = found
	}
	runtime.Delete(obj, meta.BuildFailedCondition)
	return nil
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
		obj.Status.ObservedSourceArtifactRevision = s.source.Status.Artifact.Revision
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact: revision '%s'", s.revision)
		return nil
	}
	ref := artifact.RefFor(sourcev1.HelmChartKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	art, err := r.Storage.NewArtifact(ref, s.revision, s.version.Name+"-"+s.revision+".tgz")
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
	obj.Status.ObservedChartName = s.version.Name
	obj.Status.ObservedSourceArtifactRevision = s.source.Status.Artifact.Revision
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
