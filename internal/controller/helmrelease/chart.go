package helmrelease

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Labels that the HelmChart made for spec.chart carries: the HelmRelease
// it belongs to, which may be in another namespace.
const (
	NameLabel      = "helm.toolkit.fluxcd.io/name"
	NamespaceLabel = "helm.toolkit.fluxcd.io/namespace"
)

// reconcileChart makes or updates the HelmChart of spec.chart, or finds
// the one of spec.chartRef, and loads its chart once it has an artifact
// for its current spec.
func (r *Reconciler) reconcileChart(ctx context.Context, s *scope) error {
	obj := s.obj
	var key client.ObjectKey
	switch {
	case obj.HasChartTemplate():
		k, err := r.ensureHelmChart(ctx, obj)
		if err != nil {
			return err
		}
		key = k
	case obj.HasChartRef():
		if err := r.deleteOwnHelmChart(ctx, obj); err != nil {
			return err
		}
		return r.reconcileChartRef(ctx, s)
	default:
		return runtime.Stallingf(meta.InvalidSpecReason, "spec: either chart or chartRef must be set")
	}
	hc := &sourcev1.HelmChart{}
	if err := r.Get(ctx, key, hc); err != nil {
		if apierrors.IsNotFound(err) {
			// This controller creates it: it is on its way.
			return runtime.Waiting(meta.ProgressingReason, r.Options.RequeueDependency,
				fmt.Errorf("HelmChart '%s' not found", key))
		}
		return err
	}
	s.chartObj = hc
	return r.loadSourceChart(ctx, s, hc, hc.Status.Artifact, sourcev1.HelmChartKind, key)
}

// reconcileChartRef finds the HelmChart, OCIRepository or
// ExternalArtifact of spec.chartRef and loads the chart of its artifact.
func (r *Reconciler) reconcileChartRef(ctx context.Context, s *scope) error {
	obj := s.obj
	ref := obj.Spec.ChartRef
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	if r.Options.NoCrossNamespaceRefs && ns != obj.Namespace {
		return runtime.Stallingf(meta.AccessDeniedReason,
			"spec.chartRef: %s '%s/%s' is in another namespace, which --no-cross-namespace-refs forbids", ref.Kind, ns, ref.Name)
	}
	key := client.ObjectKey{Namespace: ns, Name: ref.Name}
	var src client.Object
	var art func() *meta.Artifact
	switch ref.Kind {
	case sourcev1.HelmChartKind:
		hc := &sourcev1.HelmChart{}
		src, art = hc, func() *meta.Artifact { return hc.Status.Artifact }
	case sourcev1.OCIRepositoryKind:
		repo := &sourcev1.OCIRepository{}
		src, art = repo, func() *meta.Artifact { return repo.Status.Artifact }
	case sourcev1.ExternalArtifactKind:
		ea := &sourcev1.ExternalArtifact{}
		src, art = ea, func() *meta.Artifact { return ea.Status.Artifact }
	default:
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.chartRef.kind %q: must be HelmChart, OCIRepository or ExternalArtifact", ref.Kind)
	}
	if err := r.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			return runtime.Waiting(meta.ArtifactFailedReason, r.Options.RequeueDependency,
				fmt.Errorf("%s '%s' not found", ref.Kind, key))
		}
		return err
	}
	if hc, ok := src.(*sourcev1.HelmChart); ok {
		s.chartObj = hc
	}
	return r.loadSourceChart(ctx, s, src, art(), ref.Kind, key)
}

// loadSourceChart waits until src has an artifact for its current
// generation, then loads the chart of it. The chart of an OCIRepository
// or an ExternalArtifact carries the artifact's digest in its version's
// build metadata ("1.2.0+<12 hex digits>"), as Flux does for
// OCIRepository: a new artifact of the same chart version upgrades the
// release.
func (r *Reconciler) loadSourceChart(ctx context.Context, s *scope, src client.Object, art *meta.Artifact, kind string, key client.ObjectKey) error {
	observed := observedGeneration(src)
	cond, _ := src.(runtime.Object)
	if src.GetGeneration() != observed || art == nil {
		// A source that failed makes this fail with its message; one
		// that has not produced its artifact yet makes this progress, so
		// that `gotk create helmrelease` waits for the HelmChart that the
		// HelmRelease itself created.
		msg := fmt.Sprintf("%s '%s' is not ready", kind, key)
		reason := meta.ProgressingReason
		if cond != nil && runtime.IsFalse(cond, meta.ReadyCondition) {
			reason = meta.ArtifactFailedReason
			if m := runtime.Message(cond, meta.ReadyCondition); m != "" {
				msg += ": " + m
			}
		} else if art == nil {
			msg += ": it has no artifact yet"
		}
		return runtime.Waiting(reason, r.Options.RequeueDependency, fmt.Errorf("%s", msg))
	}
	source := fmt.Sprintf("%s '%s'", kind, key)
	ch, err := r.loadChart(ctx, *art, source)
	if err != nil {
		return runtime.Failed(meta.ArtifactFailedReason, err)
	}
	s.obj.Status.LastAttemptedRevisionDigest = ""
	switch kind {
	case sourcev1.OCIRepositoryKind, sourcev1.ExternalArtifactKind:
		digest, err := stampDigest(ch, *art, kind == sourcev1.OCIRepositoryKind)
		if err != nil {
			return runtime.Stallingf(meta.ArtifactFailedReason, "%s (revision %s): %s", source, art.Revision, err)
		}
		if kind == sourcev1.OCIRepositoryKind {
			s.obj.Status.LastAttemptedRevisionDigest = digest
		}
	}
	s.chart = ch
	s.revision = ch.Metadata.Version
	return nil
}

// observedGeneration reads status.observedGeneration of a source.
func observedGeneration(o client.Object) int64 {
	switch src := o.(type) {
	case *sourcev1.HelmChart:
		return src.Status.ObservedGeneration
	case *sourcev1.OCIRepository:
		return src.Status.ObservedGeneration
	case *sourcev1.ExternalArtifact:
		return src.Status.ObservedGeneration
	}
	return -1
}

// stampDigest adds the first 12 hex digits of the artifact's digest to
// the chart version as build metadata, and returns the digest. With
// checkTag (an OCIRepository, whose revision is "<tag>@<digest>" or a
// bare digest), the tag must be the chart's version.
func stampDigest(ch *chart.Chart, art meta.Artifact, checkTag bool) (string, error) {
	ver, err := semver.NewVersion(ch.Metadata.Version)
	if err != nil {
		return "", fmt.Errorf("chart version %q is not semver: %w", ch.Metadata.Version, err)
	}
	digest := art.Digest
	if checkTag {
		digest = art.Revision
		if tag, d, ok := strings.Cut(art.Revision, "@"); ok {
			digest = d
			// OCI tags spell semver's '+' as '_'.
			tagVer, err := semver.NewVersion(strings.ReplaceAll(tag, "_", "+"))
			if err != nil || !tagVer.Equal(ver) {
				return "", fmt.Errorf("the artifact's tag %s is not the chart's version %s", tag, ch.Metadata.Version)
			}
		}
	}
	_, hexDigits, ok := strings.Cut(digest, ":")
	if !ok || len(hexDigits) < 12 {
		return "", fmt.Errorf("artifact digest %q is not <algorithm>:<hex>", digest)
	}
	stamped, err := ver.SetMetadata(hexDigits[:12])
	if err != nil {
		return "", err
	}
	ch.Metadata.Version = stamped.String()
	return digest, nil
}

// ensureHelmChart creates or updates the HelmChart "<namespace>-<name>"
// in the source's namespace from spec.chart, and deletes the one it made
// before when the source's namespace changed.
func (r *Reconciler) ensureHelmChart(ctx context.Context, obj *helmv2.HelmRelease) (client.ObjectKey, error) {
	tmpl := obj.Spec.Chart
	ns := tmpl.GetNamespace(obj.Namespace)
	if r.Options.NoCrossNamespaceRefs && ns != obj.Namespace {
		return client.ObjectKey{}, runtime.Stallingf(meta.AccessDeniedReason,
			"spec.chart.spec.sourceRef: %s '%s/%s' is in another namespace, which --no-cross-namespace-refs forbids",
			tmpl.Spec.SourceRef.Kind, ns, tmpl.Spec.SourceRef.Name)
	}
	switch tmpl.Spec.SourceRef.Kind {
	case sourcev1.HelmRepositoryKind, sourcev1.GitRepositoryKind, sourcev1.BucketKind:
	default:
		return client.ObjectKey{}, runtime.Stallingf(meta.InvalidSpecReason,
			"spec.chart.spec.sourceRef.kind %q: must be HelmRepository, GitRepository or Bucket", tmpl.Spec.SourceRef.Kind)
	}
	key := client.ObjectKey{Namespace: ns, Name: obj.GetHelmChartName()}
	if err := r.deleteOwnHelmChartUnless(ctx, obj, key); err != nil {
		return key, err
	}
	want := sourcev1.HelmChartSpec{
		Chart:                    tmpl.Spec.Chart,
		Version:                  tmpl.Spec.Version,
		SourceRef:                sourcev1.LocalHelmChartSourceReference{Kind: tmpl.Spec.SourceRef.Kind, Name: tmpl.Spec.SourceRef.Name},
		Interval:                 tmpl.GetInterval(obj.Spec.Interval),
		ReconcileStrategy:        tmpl.Spec.ReconcileStrategy,
		ValuesFiles:              tmpl.Spec.ValuesFiles,
		IgnoreMissingValuesFiles: tmpl.Spec.IgnoreMissingValuesFiles,
	}
	if v := tmpl.Spec.Verify; v != nil {
		want.Verify = &sourcev1.OCIVerification{Provider: v.Provider, SecretRef: v.SecretRef}
	}
	wantLabels := map[string]string{NameLabel: obj.Name, NamespaceLabel: obj.Namespace}
	var wantAnnotations map[string]string
	if m := tmpl.ObjectMeta; m != nil {
		wantLabels = maps.Clone(m.Labels)
		if wantLabels == nil {
			wantLabels = map[string]string{}
		}
		wantLabels[NameLabel], wantLabels[NamespaceLabel] = obj.Name, obj.Namespace
		wantAnnotations = m.Annotations
	}
	hc := &sourcev1.HelmChart{}
	err := r.Get(ctx, key, hc)
	if apierrors.IsNotFound(err) {
		// With the source controller's finalizer, which its first
		// reconcile would add in a write of its own.
		hc = &sourcev1.HelmChart{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: wantLabels, Annotations: wantAnnotations,
				Finalizers: []string{meta.Finalizer}},
			Spec: want,
		}
		if err := r.Create(ctx, hc); err != nil {
			return key, fmt.Errorf("create HelmChart '%s': %w", key, err)
		}
		r.eventf(obj, runtime.SeverityTrace, "HelmChartCreated", "created HelmChart '%s' with SourceRef '%s/%s/%s'",
			key, want.SourceRef.Kind, ns, want.SourceRef.Name)
	} else if err != nil {
		return key, err
	} else if !equality.Semantic.DeepEqual(hc.Spec, want) || !equality.Semantic.DeepEqual(hc.Labels, wantLabels) ||
		(wantAnnotations != nil && !equality.Semantic.DeepEqual(hc.Annotations, wantAnnotations)) {
		hc.Spec = want
		hc.Labels = wantLabels
		if wantAnnotations != nil {
			hc.Annotations = wantAnnotations
		}
		if err := r.Update(ctx, hc); err != nil {
			return key, fmt.Errorf("update HelmChart '%s': %w", key, err)
		}
	}
	obj.Status.HelmChart = key.Namespace + "/" + key.Name
	return key, nil
}

// deleteOwnHelmChart deletes the HelmChart that spec.chart made, when
// spec.chart is gone.
func (r *Reconciler) deleteOwnHelmChart(ctx context.Context, obj *helmv2.HelmRelease) error {
	return r.deleteOwnHelmChartUnless(ctx, obj, client.ObjectKey{})
}

// deleteOwnHelmChartUnless deletes the HelmChart of status.helmChart
// unless it is keep.
func (r *Reconciler) deleteOwnHelmChartUnless(ctx context.Context, obj *helmv2.HelmRelease, keep client.ObjectKey) error {
	ns, name := obj.Status.GetHelmChart()
	if name == "" || (ns == keep.Namespace && name == keep.Name) {
		return nil
	}
	hc := &sourcev1.HelmChart{}
	hc.Namespace, hc.Name = ns, name
	if err := r.Delete(ctx, hc); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete HelmChart '%s/%s': %w", ns, name, err)
	}
	obj.Status.HelmChart = ""
	return nil
}

// reconcileValues composes the values: each valuesFrom in order, then
// spec.values; and their digests.
func (r *Reconciler) reconcileValues(ctx context.Context, s *scope) error {
	obj := s.obj
	values := map[string]any{}
	for i, ref := range obj.Spec.ValuesFrom {
		where := fmt.Sprintf("spec.valuesFrom[%d]: %s '%s/%s'", i, ref.Kind, obj.Namespace, ref.Name)
		data, exists, found, err := r.valuesData(ctx, obj.Namespace, ref)
		if err != nil {
			return runtime.Failed(meta.ReconciliationFailedReason, fmt.Errorf("%s: %w", where, err))
		}
		if !found {
			if ref.Optional {
				continue
			}
			what := "not found"
			if exists {
				what = fmt.Sprintf("has no key %q", ref.GetValuesKey())
			}
			return runtime.Waiting(meta.ReconciliationFailedReason, r.Options.RequeueDependency,
				fmt.Errorf("%s: %s (set optional: true to go on without it)", where, what))
		}
		if ref.TargetPath != "" {
			if err := release.SetPath(values, ref.TargetPath, string(data)); err != nil {
				return runtime.Stallingf(meta.InvalidSpecReason, "%s: %s", where, err)
			}
			continue
		}
		v, err := release.ParseValues(data, fmt.Sprintf("key %q", ref.GetValuesKey()))
		if err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "%s: %s", where, err)
		}
		values = release.MergeValues(values, v)
	}
	if obj.Spec.Values != nil && len(obj.Spec.Values.Raw) > 0 {
		v := obj.GetValues()
		if v == nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.values: not a map of values")
		}
		values = release.MergeValues(values, v)
	}
	s.values = values
	s.digest = release.ConfigDigest(values)
	st := &obj.Status
	if st.LastAttemptedRevision != s.revision || st.LastAttemptedConfigDigest != s.digest || st.LastAttemptedGeneration != obj.Generation {
		// A new desired state gets the retries anew.
		st.ClearFailures()
	}
	st.LastAttemptedRevision = s.revision
	st.LastAttemptedConfigDigest = s.digest
	st.LastAttemptedValuesChecksum = release.ValuesChecksum(values)
	st.LastAttemptedGeneration = obj.Generation
	st.StorageNamespace = obj.GetStorageNamespace()
	return nil
}

// valuesData reads the key of a valuesFrom reference; exists tells
// whether the object exists, found whether the key does.
func (r *Reconciler) valuesData(ctx context.Context, namespace string, ref helmv2.ValuesReference) (data []byte, exists, found bool, err error) {
	key := client.ObjectKey{Namespace: namespace, Name: ref.Name}
	switch ref.Kind {
	case "ConfigMap":
		cm := &corev1.ConfigMap{}
		if err := r.APIReader.Get(ctx, key, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, false, false, nil
			}
			return nil, false, false, err
		}
		if v, ok := cm.Data[ref.GetValuesKey()]; ok {
			return []byte(v), true, true, nil
		}
		v, ok := cm.BinaryData[ref.GetValuesKey()]
		return v, true, ok, nil
	case "Secret":
		sec := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, key, sec); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, false, false, nil
			}
			return nil, false, false, err
		}
		v, ok := sec.Data[ref.GetValuesKey()]
		return v, true, ok, nil
	}
	return nil, false, false, fmt.Errorf("kind must be ConfigMap or Secret")
}
