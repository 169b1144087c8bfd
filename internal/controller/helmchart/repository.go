package helmchart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileSource finds the source and waits for its artifact (an OCI
// HelmRepository has none: it only has to exist).
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	ref := obj.Spec.SourceRef
	if obj.Spec.Verify != nil {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.verify is not supported: gotk does not verify chart signatures yet; remove spec.verify to pull the chart unverified")
	}
	key := client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}
	var src interface {
		client.Object
		GetArtifact() *meta.Artifact
	}
	switch ref.Kind {
	case sourcev1.HelmRepositoryKind:
		repo := &sourcev1.HelmRepository{}
		s.repo, src = repo, repo
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.BucketKind:
		src = &sourcev1.Bucket{}
	default:
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.sourceRef.kind %q is not supported: use HelmRepository, GitRepository or Bucket", ref.Kind)
	}
	if err := r.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue,
				fmt.Errorf("spec.sourceRef: %s '%s' not found", ref.Kind, key))
		}
		return err
	}
	if s.repo != nil && s.repo.IsOCI() {
		return nil
	}
	art := src.GetArtifact()
	if art == nil {
		what := "artifact"
		if s.repo != nil {
			what = "index artifact"
		}
		return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue,
			fmt.Errorf("spec.sourceRef: %s '%s' has no %s yet", ref.Kind, key, what))
	}
	s.source = art
	s.sourceRevision = art.Revision
	return nil
}

// reconcileChart finds the chart version to publish and, unless the
// stored artifact already holds it, gets and builds it.
func (r *Reconciler) reconcileChart(ctx context.Context, s *scope) error {
	var err error
	if s.dir, err = os.MkdirTemp("", "helmchart-"); err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	switch {
	case s.repo != nil && s.repo.IsOCI():
		err = r.chartFromOCI(ctx, s)
	case s.repo != nil:
		err = r.chartFromIndex(ctx, s)
	default:
		err = r.chartFromDir(ctx, s)
	}
	if err != nil || s.upToDate {
		return err
	}
	runtime.Delete(s.obj, meta.BuildFailedCondition)
	return nil
}

// chartFromIndex picks the version in the HTTP repository's index and
// downloads it.
func (r *Reconciler) chartFromIndex(ctx context.Context, s *scope) error {
	obj, src := s.obj, s.repo
	file, err := r.Storage.LocalPath(*s.source)
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	versions, err := r.Indexes.Lookup(s.source.Digest, file,
		fmt.Sprintf("index artifact of HelmRepository '%s/%s'", src.Namespace, src.Name), obj.Spec.Chart)
	var entry *helm.IndexEntry
	if err == nil {
		entry, err = helm.SelectEntry(obj.Spec.Chart, versions, obj.Spec.Version)
	}
	var notFound *helm.ChartNotFoundError
	var invalidIndex *helm.InvalidIndexError
	switch {
	case errors.As(err, &invalidIndex):
		return runtime.Waiting(meta.DependencyNotReadyReason, r.DependencyRequeue, err)
	case errors.As(err, &notFound) && obj.Spec.Version != "" && obj.Spec.Version != "*":
		// Check the range first: an invalid one is the user's to fix
		// whatever the index holds.
		if _, rerr := semver.NewConstraint(obj.Spec.Version); rerr != nil {
			err = &helm.InvalidRangeError{Range: obj.Spec.Version, Err: rerr}
		}
	}
	if err != nil {
		return selectFailed(obj, err)
	}
	if done, err := r.checkUpToDate(s, entry.Name, entry.Version); done || err != nil {
		return err
	}
	opts, err := helm.RepositoryOptions(ctx, r.Client, src)
	if err != nil {
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
		return runtime.Failed(meta.AuthenticationFailedReason, err)
	}
	pullCtx, cancel := context.WithTimeout(ctx, src.GetTimeout())
	defer cancel()
	downloaded := filepath.Join(s.dir, "download.tgz")
	if err := helm.DownloadChart(pullCtx, src.Spec.URL, entry, opts, downloaded); err != nil {
		reason := sourcev1.ChartPullFailedReason
		var httpErr *helm.HTTPError
		if errors.As(err, &httpErr) && httpErr.IsAuth() {
			reason = meta.AuthenticationFailedReason
		}
		err = fmt.Errorf("pull chart '%s' version %s: %w", entry.Name, entry.Version, err)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
		return runtime.Failed(reason, err)
	}
	runtime.Delete(obj, meta.FetchFailedCondition)
	return r.buildArchive(s, downloaded, entry.Name, entry.Version)
}

// chartFromOCI picks the newest tag in range in the OCI repository and
// pulls it with Helm's registry client, with the login data of the
// HelmRepository.
func (r *Reconciler) chartFromOCI(ctx context.Context, s *scope) error {
	obj, src := s.obj, s.repo
	if src.Spec.Provider != "" && src.Spec.Provider != "generic" {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.sourceRef: HelmRepository '%s/%s' has spec.provider %q, which is not supported: use generic with spec.secretRef", src.Namespace, src.Name, src.Spec.Provider)
	}
	ref, err := helm.OCIChartRef(src.Spec.URL, obj.Spec.Chart)
	if err != nil {
		return runtime.Stalling(meta.InvalidSpecReason, err)
	}
	opts, err := helm.RepositoryOptions(ctx, r.Client, src)
	if err != nil {
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
		return runtime.Failed(meta.AuthenticationFailedReason, err)
	}
	rc, err := helm.RegistryClient(src.Spec.URL, opts, src.GetTimeout())
	if err != nil {
		return runtime.Failed(sourcev1.ChartPullFailedReason, fmt.Errorf("registry client for %s: %w", src.Spec.URL, err))
	}
	version, err := helm.SelectOCIVersion(rc, ref, obj.Spec.Version)
	if err != nil {
		return selectFailed(obj, err)
	}
	if done, err := r.checkUpToDate(s, obj.Spec.Chart, version); done || err != nil {
		return err
	}
	downloaded := filepath.Join(s.dir, "download.tgz")
	if _, err := helm.PullOCIChart(rc, ref, version, downloaded); err != nil {
		return pullFailed(obj, fmt.Errorf("pull chart '%s' version %s: %w", obj.Spec.Chart, version, err))
	}
	runtime.Delete(obj, meta.FetchFailedCondition)
	return r.buildArchive(s, downloaded, obj.Spec.Chart, version)
}

// selectFailed marks a version that cannot be chosen: an invalid range
// stalls until the spec changes; a missing chart or version may appear
// with the next index or tag, so it is retried.
func selectFailed(obj *sourcev1.HelmChart, err error) error {
	var invalid *helm.InvalidRangeError
	if errors.As(err, &invalid) {
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.InvalidSpecReason, "%s", err)
		return runtime.Stalling(meta.InvalidSpecReason, err)
	}
	return pullFailed(obj, err)
}

// pullFailed marks FetchFailed, with AuthenticationFailed when the
// registry refused the credentials.
func pullFailed(obj *sourcev1.HelmChart, err error) error {
	reason := sourcev1.ChartPullFailedReason
	var regErr *helm.RegistryError
	if errors.As(err, &regErr) && regErr.IsAuth() {
		reason = meta.AuthenticationFailedReason
	}
	runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
	return runtime.Failed(reason, err)
}

// checkUpToDate sets the revision of version of chart name and reports
// whether the stored artifact already holds it.
func (r *Reconciler) checkUpToDate(s *scope, name, version string) (bool, error) {
	obj := s.obj
	s.chartName = name
	rev, err := chartRevision(obj, version, "")
	if err != nil {
		return false, buildFailed(obj, err)
	}
	s.revision = rev
	art := obj.Status.Artifact
	if art != nil && art.Revision == s.revision && obj.Status.ObservedChartName == name && r.Storage.Exists(*art) {
		s.upToDate = true
		runtime.Delete(obj, meta.FetchFailedCondition)
		runtime.Delete(obj, meta.BuildFailedCondition)
		return true, nil
	}
	return false, nil
}

// chartRevision is version with Flux's build metadata: the start of the
// source revision (reconcileStrategy Revision), then the generation when
// values files are merged, joined by a dot; it replaces any metadata the
// version had.
func chartRevision(obj *sourcev1.HelmChart, version, sourceRev string) (string, error) {
	metadata := sourceRev
	if len(obj.Spec.ValuesFiles) > 0 {
		if metadata != "" {
			metadata += "."
		}
		metadata += strconv.FormatInt(obj.Generation, 10)
	}
	if metadata == "" {
		return version, nil
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return "", fmt.Errorf("chart version %q is not SemVer: %w", version, err)
	}
	nv, err := v.SetMetadata(metadata)
	if err != nil {
		return "", fmt.Errorf("chart version %q with metadata %q: %w", version, metadata, err)
	}
	return nv.Original(), nil
}

// buildArchive loads a downloaded chart archive, checks that it is the
// chart and version expected, and repackages it with spec.valuesFiles.
func (r *Reconciler) buildArchive(s *scope, downloaded, name, version string) error {
	obj := s.obj
	ch, err := helm.LoadChart(downloaded, fmt.Sprintf("chart '%s' version %s", name, version))
	if err == nil && (ch.Name() != name || ch.Metadata.Version != version) {
		err = fmt.Errorf("chart '%s' version %s: the archive holds %s version %s", name, version, ch.Name(), ch.Metadata.Version)
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
		if s.packaged, err = helm.Repackage(ch, values, s.revision, filepath.Join(s.dir, "out")); err != nil {
			return buildFailed(obj, fmt.Errorf("package chart '%s' with spec.valuesFiles: %w", name, err))
		}
		s.valuesFound = found
	}
	return nil
}

// sourceRevisionDigest returns the hex that identifies a source revision:
// the commit of a Git revision (<ref>@sha1:<hex>, or the older
// <ref>/<hex>), the hex of a Bucket digest (sha256:<hex>).
func sourceRevisionDigest(rev string) string {
	if i := strings.LastIndex(rev, "@"); i >= 0 {
		rev = rev[i+1:]
	}
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		rev = rev[i+1:]
	} else if i := strings.LastIndex(rev, "/"); i >= 0 {
		rev = rev[i+1:]
	}
	return rev
}
