package helmchart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// chartFromDir builds the chart at spec.chart, a directory of the
// GitRepository or Bucket artifact: its dependencies are added, its values
// merged with spec.valuesFiles (paths from the artifact root), and it is
// packaged at its version, with the commit as metadata under
// reconcileStrategy Revision. Under ChartVersion a new source revision
// with the same chart version builds nothing, unless the spec changed.
func (r *Reconciler) chartFromDir(ctx context.Context, s *scope) error {
	obj := s.obj
	kind := obj.Spec.SourceRef.Kind
	root := filepath.Join(s.dir, "source")
	fetcher := r.Fetcher
	if fetcher == nil {
		fetcher = &artifact.Fetcher{}
	}
	if err := fetcher.Fetch(ctx, *s.source, root); err != nil {
		err = fmt.Errorf("fetch the artifact of %s '%s/%s': %w", kind, obj.Namespace, obj.Spec.SourceRef.Name, err)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.ArtifactFailedReason, "%s", err)
		return runtime.Failed(meta.ArtifactFailedReason, err)
	}
	runtime.Delete(obj, meta.FetchFailedCondition)

	chartDir, err := confined(root, obj.Spec.Chart)
	if err != nil {
		return runtime.Stalling(meta.InvalidSpecReason, fmt.Errorf("spec.chart: %w", err))
	}
	where := fmt.Sprintf("chart '%s' in the artifact of %s '%s/%s' (revision %s)", obj.Spec.Chart, kind, obj.Namespace, obj.Spec.SourceRef.Name, s.source.Revision)
	md, err := chartutil.LoadChartfile(filepath.Join(chartDir, chartutil.ChartfileName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return buildFailed(obj, fmt.Errorf("%s: no Chart.yaml at that path", where))
		}
		return buildFailed(obj, fmt.Errorf("%s: invalid Chart.yaml: %w", where, err))
	}
	if err := md.Validate(); err != nil {
		return buildFailed(obj, fmt.Errorf("%s: invalid Chart.yaml: %w", where, err))
	}
	sourceRev := ""
	if obj.Spec.ReconcileStrategy == sourcev1.ReconcileStrategyRevision {
		sourceRev = sourceRevisionDigest(s.source.Revision)
		if len(sourceRev) > 12 {
			sourceRev = sourceRev[:12]
		}
	}
	s.chartName = md.Name
	if s.revision, err = chartRevision(obj, md.Version, sourceRev); err != nil {
		return buildFailed(obj, fmt.Errorf("%s: %w", where, err))
	}
	art := obj.Status.Artifact
	if art != nil && art.Revision == s.revision && obj.Status.ObservedChartName == md.Name &&
		obj.Status.ObservedGeneration == obj.Generation && r.Storage.Exists(*art) {
		s.upToDate = true
		runtime.Delete(obj, meta.BuildFailedCondition)
		return nil
	}

	ch, err := loader.LoadDir(chartDir)
	if err == nil {
		err = ch.Validate()
	}
	if err != nil {
		return buildFailed(obj, fmt.Errorf("%s is not a valid chart: %w", where, err))
	}
	if err := r.addDependencies(ctx, s, ch, chartDir, root); err != nil {
		return buildFailed(obj, fmt.Errorf("%s: %w", where, err))
	}
	values := ch.Values
	s.valuesFound = nil
	if len(obj.Spec.ValuesFiles) > 0 {
		if values, s.valuesFound, err = mergeSourceValues(root, obj.Spec.ValuesFiles, obj.Spec.IgnoreMissingValuesFiles); err != nil {
			return buildFailed(obj, err)
		}
	}
	if s.packaged, err = helm.Repackage(ch, values, s.revision, filepath.Join(s.dir, "out")); err != nil {
		return buildFailed(obj, fmt.Errorf("package %s: %w", where, err))
	}
	return nil
}

// mergeSourceValues merges the values files at paths from the artifact
// root, in order, later files winning.
func mergeSourceValues(root string, paths []string, ignoreMissing bool) (map[string]any, []string, error) {
	merged := map[string]any{}
	var found []string
	for _, p := range paths {
		file, err := confined(root, p)
		if err != nil {
			return nil, nil, fmt.Errorf("spec.valuesFiles: %w", err)
		}
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			if ignoreMissing {
				continue
			}
			return nil, nil, fmt.Errorf("spec.valuesFiles: %q is not in the source artifact (set spec.ignoreMissingValuesFiles to skip it)", p)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("spec.valuesFiles: %q: %w", p, err)
		}
		values := map[string]any{}
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, nil, fmt.Errorf("spec.valuesFiles: %q is not YAML: %w", p, err)
		}
		merged = helm.MergeValues(merged, values)
		found = append(found, p)
	}
	return merged, found, nil
}

// confined joins a slash-separated relative path to root, refusing one
// that leaves it.
func confined(root, p string) (string, error) {
	clean := path.Clean("/" + strings.TrimPrefix(p, "./"))
	if strings.Contains(p, "\\") || strings.HasPrefix(path.Clean(p), "..") || path.IsAbs(p) {
		return "", fmt.Errorf("path %q must be relative and stay inside the source artifact", p)
	}
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}

// addDependencies adds to ch the dependencies of its Chart.yaml that its
// charts/ directory does not hold: a file:// path in the artifact, or a
// chart of a HelmRepository of the namespace whose URL is the
// dependency's repository. With a Chart.lock, its versions are used.
func (r *Reconciler) addDependencies(ctx context.Context, s *scope, ch *chart.Chart, chartDir, root string) error {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	locked := map[string]*chart.Dependency{}
	if ch.Lock != nil {
		for _, d := range ch.Lock.Dependencies {
			locked[d.Name] = d
		}
	}
	for _, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		constraint := dep.Version
		if l, ok := locked[dep.Name]; ok && l.Repository == dep.Repository {
			if err := inRange(l.Version, dep.Version); err != nil {
				return fmt.Errorf("Chart.lock pins dependency '%s' at %s, outside %q of Chart.yaml: update the lock (helm dependency update)", dep.Name, l.Version, dep.Version)
			}
			constraint = l.Version
		}
		sub, err := r.fetchDependency(ctx, s, dep, constraint, chartDir, root)
		if err != nil {
			return fmt.Errorf("dependency '%s' (%s): %w", dep.Name, dep.Repository, err)
		}
		ch.AddDependency(sub)
		have[dep.Name] = true
	}
	return nil
}

func inRange(version, constraint string) error {
	if constraint == "" {
		return nil
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return err
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return err
	}
	if !c.Check(v) {
		return fmt.Errorf("%s is not in %q", version, constraint)
	}
	return nil
}

// fetchDependency loads one dependency at the newest version in
// constraint.
func (r *Reconciler) fetchDependency(ctx context.Context, s *scope, dep *chart.Dependency, constraint, chartDir, root string) (*chart.Chart, error) {
	repoURL := dep.Repository
	switch {
	case strings.HasPrefix(repoURL, "file://"):
		rel := strings.TrimPrefix(repoURL, "file://")
		dir := filepath.Clean(filepath.Join(chartDir, filepath.FromSlash(rel)))
		if dir != root && !strings.HasPrefix(dir, root+string(filepath.Separator)) {
			return nil, fmt.Errorf("path %s leaves the source artifact", rel)
		}
		sub, err := loader.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", rel, err)
		}
		if sub.Name() != dep.Name {
			return nil, fmt.Errorf("%s holds chart '%s'", rel, sub.Name())
		}
		if err := inRange(sub.Metadata.Version, constraint); err != nil {
			return nil, fmt.Errorf("version %s of %s does not match %q", sub.Metadata.Version, rel, constraint)
		}
		return sub, nil
	case strings.HasPrefix(repoURL, "http://"), strings.HasPrefix(repoURL, "https://"), strings.HasPrefix(repoURL, "oci://"):
	default:
		return nil, fmt.Errorf("repository %q is not supported: name a file:// path, or the URL of a HelmRepository of namespace %s", repoURL, s.obj.Namespace)
	}
	src, err := r.repositoryFor(ctx, s.obj.Namespace, repoURL)
	if err != nil {
		return nil, err
	}
	opts, err := helm.RepositoryOptions(ctx, r.Client, src)
	if err != nil {
		return nil, fmt.Errorf("HelmRepository '%s/%s': %w", src.Namespace, src.Name, err)
	}
	pullCtx, cancel := context.WithTimeout(ctx, src.GetTimeout())
	defer cancel()
	file := filepath.Join(s.dir, "dep-"+dep.Name+".tgz")
	var name, version string
	if src.IsOCI() {
		ref, err := helm.OCIChartRef(src.Spec.URL, dep.Name)
		if err != nil {
			return nil, err
		}
		rc, err := helm.RegistryClient(src.Spec.URL, opts, src.GetTimeout())
		if err != nil {
			return nil, err
		}
		if version, err = helm.SelectOCIVersion(rc, ref, constraint); err != nil {
			return nil, err
		}
		if _, err := helm.PullOCIChart(rc, ref, version, file); err != nil {
			return nil, err
		}
		name = dep.Name
	} else {
		if src.Status.Artifact == nil {
			return nil, fmt.Errorf("HelmRepository '%s/%s' has no index artifact yet", src.Namespace, src.Name)
		}
		local, err := r.Storage.LocalPath(*src.Status.Artifact)
		if err != nil {
			return nil, err
		}
		versions, err := r.Indexes.Lookup(src.Status.Artifact.Digest, local,
			fmt.Sprintf("index artifact of HelmRepository '%s/%s'", src.Namespace, src.Name), dep.Name)
		if err != nil {
			return nil, err
		}
		entry, err := helm.SelectEntry(dep.Name, versions, constraint)
		if err != nil {
			return nil, err
		}
		if err := helm.DownloadChart(pullCtx, src.Spec.URL, entry, opts, file); err != nil {
			return nil, err
		}
		name, version = entry.Name, entry.Version
	}
	sub, err := helm.LoadChart(file, fmt.Sprintf("chart '%s' version %s", name, version))
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// repositoryFor finds the HelmRepository of namespace whose spec.url is
// repoURL, ignoring a trailing slash.
func (r *Reconciler) repositoryFor(ctx context.Context, namespace, repoURL string) (*sourcev1.HelmRepository, error) {
	list := &sourcev1.HelmRepositoryList{}
	if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	want := strings.TrimSuffix(repoURL, "/")
	for i := range list.Items {
		if strings.TrimSuffix(list.Items[i].Spec.URL, "/") == want {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no HelmRepository in namespace %s has spec.url %s: create one to fetch this dependency", namespace, repoURL)
}
