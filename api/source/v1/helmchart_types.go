package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// Reconcile strategies of a HelmChart: what makes it publish a new
// artifact.
const (
	// ReconcileStrategyChartVersion publishes a new artifact only when the
	// version in Chart.yaml changes.
	ReconcileStrategyChartVersion = "ChartVersion"
	// ReconcileStrategyRevision also publishes a new artifact when the
	// revision of the source (a Git commit, a bucket digest) changes,
	// appending it to the chart version as semver metadata.
	ReconcileStrategyRevision = "Revision"
)

// HelmChartSpec says which chart to get, from which source, and which
// values files to merge into it.
// +kubebuilder:validation:XValidation:rule="!has(self.verify) || self.sourceRef.kind == 'HelmRepository'",message="spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'"
type HelmChartSpec struct {
	// Chart is the name of the chart in a HelmRepository, or the path of
	// the chart directory in a GitRepository or Bucket artifact.
	// +required
	Chart string `json:"chart"`

	// Version is a semver range (such as "1.x" or ">=1.2.0 <2.0.0") of the
	// chart in a HelmRepository; the highest matching version is used.
	// Defaults to "*", the latest. Ignored for Git and Bucket sources.
	// +kubebuilder:default:="*"
	// +optional
	Version string `json:"version,omitempty"`

	// SourceRef names the HelmRepository, GitRepository or Bucket, in the
	// same namespace, that holds the chart.
	// +required
	SourceRef LocalHelmChartSourceReference `json:"sourceRef"`

	// Interval between two checks of the source for a new chart version,
	// such as "10m". The controller adds a little jitter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// ReconcileStrategy says what triggers a new artifact: "ChartVersion"
	// (the default), or "Revision" to also react to new commits of a Git or
	// Bucket source.
	// +kubebuilder:validation:Enum=ChartVersion;Revision
	// +kubebuilder:default:=ChartVersion
	// +optional
	ReconcileStrategy string `json:"reconcileStrategy,omitempty"`

	// ValuesFiles are paths of values files in the chart (or, for a chart
	// from Git or a bucket, relative to the source root), merged in order
	// (later files win) and packaged as the chart's values.yaml. The
	// chart's own values.yaml counts only when it is listed.
	// +optional
	ValuesFiles []string `json:"valuesFiles,omitempty"`

	// IgnoreMissingValuesFiles skips the ValuesFiles that do not exist
	// instead of failing.
	// +optional
	IgnoreMissingValuesFiles bool `json:"ignoreMissingValuesFiles,omitempty"`

	// Suspend stops the controller from reconciling this object until it
	// is set back to false; the last artifact stays available.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Verify, when set, requires the chart to carry a valid signature.
	// Only for charts pulled from an OCI HelmRepository.
	// +optional
	Verify *OCIVerification `json:"verify,omitempty"`
}

// LocalHelmChartSourceReference names the source of a chart, in the
// namespace of the HelmChart.
type LocalHelmChartSourceReference struct {
	// APIVersion of the source, such as "source.toolkit.fluxcd.io/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source: HelmRepository, GitRepository or Bucket.
	// +kubebuilder:validation:Enum=HelmRepository;GitRepository;Bucket
	// +required
	Kind string `json:"kind"`

	// Name of the source.
	// +required
	Name string `json:"name"`
}

// HelmChartStatus is what the controller last observed and published.
type HelmChartStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ObservedSourceArtifactRevision is the revision of the source
	// artifact that Artifact was built from.
	// +optional
	ObservedSourceArtifactRevision string `json:"observedSourceArtifactRevision,omitempty"`

	// ObservedChartName is the chart name that Artifact was built from.
	// +optional
	ObservedChartName string `json:"observedChartName,omitempty"`

	// ObservedValuesFiles are the values files that were found and merged
	// into Artifact.
	// +optional
	ObservedValuesFiles []string `json:"observedValuesFiles,omitempty"`

	// Conditions describe the current state: Ready, Reconciling, Stalled,
	// ArtifactInStorage, ArtifactOutdated, SourceVerified, FetchFailed,
	// BuildFailed, StorageOperationFailed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// URL is where the latest chart package can be downloaded; it moves
	// with every new artifact. Consumers should prefer Artifact.URL.
	// +optional
	URL string `json:"url,omitempty"`

	// Artifact is the last packaged chart; its revision is the chart
	// version.
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hc,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Chart",type=string,JSONPath=`.spec.chart`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Source Kind",type=string,JSONPath=`.spec.sourceRef.kind`
// +kubebuilder:printcolumn:name="Source Name",type=string,JSONPath=`.spec.sourceRef.name`
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""

// HelmChart gets a Helm chart from a HelmRepository, or packages one from
// a GitRepository or Bucket artifact, on an interval, and publishes the
// packaged chart as an artifact for HelmReleases.
type HelmChart struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the HelmChart.
	// +optional
	Spec HelmChartSpec `json:"spec,omitempty"`

	// Status is the observed state of the HelmChart.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status HelmChartStatus `json:"status,omitempty"`
}

// HelmChartList is a list of HelmCharts.
// +kubebuilder:object:root=true
type HelmChartList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the HelmCharts.
	Items []HelmChart `json:"items"`
}

var _ meta.Reconcilable = &HelmChart{}

// GetConditions returns status.conditions.
func (in *HelmChart) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *HelmChart) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *HelmChart) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *HelmChart) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *HelmChart) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

// GetValuesFiles returns spec.valuesFiles.
func (in *HelmChart) GetValuesFiles() []string {
	return in.Spec.ValuesFiles
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *HelmChart) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest records token in
// status.lastHandledReconcileAt.
func (in *HelmChart) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

func init() {
	register(&HelmChart{}, &HelmChartList{})
}
