package v2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// CrossNamespaceObjectReference names the source (HelmRepository,
// GitRepository or Bucket) that a generated HelmChart pulls the chart from.
type CrossNamespaceObjectReference struct {
	// APIVersion of the source, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source.
	// +kubebuilder:validation:Enum=HelmRepository;GitRepository;Bucket
	// +required
	Kind string `json:"kind"`

	// Name of the source.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Namespace of the source; defaults to the HelmRelease's.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// CrossNamespaceSourceReference names an object whose artifact is the
// chart itself: an OCIRepository, a HelmChart or an ExternalArtifact.
type CrossNamespaceSourceReference struct {
	// APIVersion of the object, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the object.
	// +kubebuilder:validation:Enum=OCIRepository;HelmChart;ExternalArtifact
	// +required
	Kind string `json:"kind"`

	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Namespace of the object; defaults to the HelmRelease's.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// HelmChartTemplate describes the HelmChart that the controller creates,
// in the namespace of the source, to fetch and package the chart.
type HelmChartTemplate struct {
	// ObjectMeta holds labels and annotations for the HelmChart.
	// +optional
	ObjectMeta *HelmChartTemplateObjectMeta `json:"metadata,omitempty"`

	// Spec is the spec of the HelmChart.
	// +required
	Spec HelmChartTemplateSpec `json:"spec"`
}

// GetInterval returns the HelmChart's interval, or def when it is not set.
func (in HelmChartTemplate) GetInterval(def metav1.Duration) metav1.Duration {
	if in.Spec.Interval == nil {
		return def
	}
	return *in.Spec.Interval
}

// GetNamespace returns the namespace of the chart's source, or def when it
// is not set.
func (in HelmChartTemplate) GetNamespace(def string) string {
	if in.Spec.SourceRef.Namespace == "" {
		return def
	}
	return in.Spec.SourceRef.Namespace
}

// HelmChartTemplateObjectMeta holds the labels and annotations of the
// generated HelmChart.
type HelmChartTemplateObjectMeta struct {
	// Labels to set on the HelmChart.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations to set on the HelmChart.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// HelmChartTemplateSpec is the spec of the generated HelmChart.
type HelmChartTemplateSpec struct {
	// Chart is the chart's name in a HelmRepository, or its path in a
	// GitRepository or Bucket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +required
	Chart string `json:"chart"`

	// Version is a semver range of the chart versions to pick from, such
	// as "^1.2"; the highest match wins. Ignored for Git and Bucket
	// sources. Defaults to "*", the latest version.
	// +kubebuilder:default:=*
	// +optional
	Version string `json:"version,omitempty"`

	// SourceRef names the source that holds the chart.
	// +required
	SourceRef CrossNamespaceObjectReference `json:"sourceRef"`

	// Interval between two checks of the source for a new chart. Defaults
	// to the HelmRelease's interval.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// ReconcileStrategy chooses what makes a new chart artifact: a new
	// chart version (ChartVersion, the default) or any new revision of the
	// source (Revision).
	// +kubebuilder:validation:Enum=ChartVersion;Revision
	// +kubebuilder:default:=ChartVersion
	// +optional
	ReconcileStrategy string `json:"reconcileStrategy,omitempty"`

	// ValuesFiles are values files in the source, merged in order, that
	// replace the chart's default values.yaml unless it is listed too.
	// +optional
	ValuesFiles []string `json:"valuesFiles,omitempty"`

	// IgnoreMissingValuesFiles skips the ValuesFiles that do not exist
	// instead of failing.
	// +optional
	IgnoreMissingValuesFiles bool `json:"ignoreMissingValuesFiles,omitempty"`

	// Verify checks the signature of a chart from an OCI registry. Chart
	// dependencies that are not bundled are not verified.
	// +optional
	Verify *HelmChartTemplateVerification `json:"verify,omitempty"`
}

// HelmChartTemplateVerification configures the signature check of an OCI
// chart.
type HelmChartTemplateVerification struct {
	// Provider of the signature: cosign (the default) or notation.
	// +kubebuilder:validation:Enum=cosign;notation
	// +kubebuilder:default:=cosign
	// +required
	Provider string `json:"provider"`

	// SecretRef names a Secret holding the trusted public keys or
	// certificates. Without it, cosign checks keyless signatures.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`
}

// ValuesReference names a ConfigMap or Secret key that holds Helm values,
// merged into the release's values.
type ValuesReference struct {
	// Kind of the object: Secret or ConfigMap.
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	// +required
	Kind string `json:"kind"`

	// Name of the object, in the HelmRelease's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// ValuesKey is the data key that holds the values. Defaults to
	// "values.yaml".
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[\-._a-zA-Z0-9]+$`
	// +optional
	ValuesKey string `json:"valuesKey,omitempty"`

	// TargetPath is where, in dot notation such as "ingress.hosts[0]",
	// the single value under ValuesKey is set. When empty, the key holds a
	// YAML document merged at the root of the values.
	// +kubebuilder:validation:MaxLength=250
	// +kubebuilder:validation:Pattern=`^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$`
	// +optional
	TargetPath string `json:"targetPath,omitempty"`

	// Optional tolerates a missing object or key: the reference is then
	// skipped. Other errors still fail the reconcile.
	// +optional
	Optional bool `json:"optional,omitempty"`

	// Literal sets the value at TargetPath as-is, like helm --set-literal,
	// without reading commas, dots or brackets in it as --set syntax. Use
	// it for file contents and other free-form strings. Ignored without
	// TargetPath.
	// +optional
	Literal bool `json:"literal,omitempty"`
}

// DefaultValuesKey is the data key read when ValuesKey is empty.
const DefaultValuesKey = "values.yaml"

// GetValuesKey returns ValuesKey, or "values.yaml" when it is empty.
func (in ValuesReference) GetValuesKey() string {
	if in.ValuesKey == "" {
		return DefaultValuesKey
	}
	return in.ValuesKey
}

// PostRenderer changes the manifests that Helm renders before they are
// applied.
type PostRenderer struct {
	// Kustomize patches the rendered manifests with kustomize.
	// +optional
	Kustomize *Kustomize `json:"kustomize,omitempty"`
}

// Kustomize is a post-renderer that runs kustomize patches and image
// rewrites over the rendered manifests.
type Kustomize struct {
	// Patches are strategic merge or JSON 6902 patches applied to the
	// rendered objects that their target selects.
	// +optional
	Patches []meta.Patch `json:"patches,omitempty"`

	// Images rewrite container image names, tags or digests.
	// +optional
	Images []meta.Image `json:"images,omitempty"`
}
