package v2

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// HelmReleaseKind is the kind name of HelmRelease.
const HelmReleaseKind = "HelmRelease"

const (
	// defaultMaxHistory is how many release versions Helm keeps when
	// spec.maxHistory is not set.
	defaultMaxHistory = 5

	// DefaultTimeout is the timeout of Helm operations when spec.timeout is
	// not set.
	DefaultTimeout = 5 * time.Minute

	// MaxReleaseNameLength is the longest release name Helm accepts.
	MaxReleaseNameLength = 53

	// releaseNameHashLength is how many hex digits of the SHA-256 of a too
	// long release name end its shortened form.
	releaseNameHashLength = 12
)

// HelmReleaseSpec is the desired state of a Helm release: which chart, with
// which values, installed where, and how each Helm action behaves.
// +kubebuilder:validation:XValidation:rule="(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",message="either chart or chartRef must be set"
type HelmReleaseSpec struct {
	// Chart describes a HelmChart that the controller creates to fetch the
	// chart from a HelmRepository, GitRepository or Bucket. Exactly one of
	// Chart and ChartRef is set.
	// +optional
	Chart *HelmChartTemplate `json:"chart,omitempty"`

	// ChartRef names an existing OCIRepository, HelmChart or
	// ExternalArtifact whose artifact is the chart. Exactly one of Chart and
	// ChartRef is set.
	// +optional
	ChartRef *CrossNamespaceSourceReference `json:"chartRef,omitempty"`

	// Interval between two reconciles of the release, such as "10m".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// KubeConfig makes the controller manage the release on a remote
	// cluster instead of its own. Combined with ServiceAccountName, it
	// impersonates that account on the remote cluster.
	// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) || has(self.secretRef)",message="exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
	// +kubebuilder:validation:XValidation:rule="!has(self.configMapRef) || !has(self.secretRef)",message="exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
	// +optional
	KubeConfig *meta.KubeConfigReference `json:"kubeConfig,omitempty"`

	// Suspend stops reconciles of this HelmRelease until it is set back to
	// false; a reconcile already running finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ReleaseName is the name of the Helm release. Defaults to
	// "<targetNamespace>-<name>" when TargetNamespace is set and to the
	// HelmRelease's name otherwise, shortened with a hash when longer than
	// 53 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=53
	// +optional
	ReleaseName string `json:"releaseName,omitempty"`

	// TargetNamespace is the namespace the release is installed in.
	// Defaults to the HelmRelease's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	TargetNamespace string `json:"targetNamespace,omitempty"`

	// StorageNamespace is the namespace where Helm stores the release
	// history. Defaults to the HelmRelease's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	StorageNamespace string `json:"storageNamespace,omitempty"`

	// DependsOn lists HelmReleases that must be ready before this one is
	// reconciled.
	// +optional
	DependsOn []meta.DependencyReference `json:"dependsOn,omitempty"`

	// Timeout for each Kubernetes operation of a Helm action, such as a
	// hook Job. Each action can override it. Defaults to 5m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// MaxHistory is how many release versions Helm keeps in storage; 0
	// keeps them all. Defaults to 5.
	// +optional
	MaxHistory *int `json:"maxHistory,omitempty"`

	// ServiceAccountName is the service account, in the HelmRelease's
	// namespace, that the controller impersonates for Helm actions.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// PersistentClient keeps one Kubernetes client for a whole reconcile
	// instead of one per Helm action. Faster, but charts that create CRDs
	// outside Helm's crds/ directory may then find them missing in later
	// hooks. Defaults to true.
	// +optional
	PersistentClient *bool `json:"persistentClient,omitempty"`

	// DriftDetection compares the cluster with the manifest of the release
	// and, when enabled, corrects the differences.
	// +optional
	DriftDetection *DriftDetection `json:"driftDetection,omitempty"`

	// Install configures the Helm install.
	// +optional
	Install *Install `json:"install,omitempty"`

	// Upgrade configures the Helm upgrade.
	// +optional
	Upgrade *Upgrade `json:"upgrade,omitempty"`

	// Test configures the Helm tests.
	// +optional
	Test *Test `json:"test,omitempty"`

	// Rollback configures the Helm rollback.
	// +optional
	Rollback *Rollback `json:"rollback,omitempty"`

	// Uninstall configures the Helm uninstall.
	// +optional
	Uninstall *Uninstall `json:"uninstall,omitempty"`

	// ValuesFrom lists ConfigMap and Secret keys holding values, merged in
	// order; Values is merged over them all.
	// +optional
	ValuesFrom []ValuesReference `json:"valuesFrom,omitempty"`

	// Values are the chart values, as in a values.yaml file.
	// +optional
	Values *meta.JSON `json:"values,omitempty"`

	// PostRenderers change the rendered manifests, in order, before they
	// are applied.
	// +optional
	PostRenderers []PostRenderer `json:"postRenderers,omitempty"`

	// PostRenderStrategy chooses what the post-renderers see: nohooks
	// (templates only, as in Helm 3), combined (templates and hooks
	// together, the default) or separate (templates and hooks apart).
	// +kubebuilder:validation:Enum=nohooks;combined;separate
	// +optional
	PostRenderStrategy string `json:"postRenderStrategy,omitempty"`

	// CommonMetadata sets labels and annotations on every resource of the
	// release, replacing values under the same keys.
	// +optional
	CommonMetadata *meta.CommonMetadata `json:"commonMetadata,omitempty"`

	// HealthCheckExprs tell, with CEL expressions, how to read the health
	// of kinds that the built-in checks do not understand. They are used
	// when an action waits and WaitStrategy is poller.
	// +optional
	HealthCheckExprs []meta.CustomHealthCheck `json:"healthCheckExprs,omitempty"`

	// WaitStrategy chooses how Helm waits for the release's resources to
	// be ready.
	// +optional
	WaitStrategy *WaitStrategy `json:"waitStrategy,omitempty"`
}

// ReleaseAction is a Helm action that makes a new release.
type ReleaseAction string

const (
	// ReleaseActionInstall is a Helm install.
	ReleaseActionInstall ReleaseAction = "install"

	// ReleaseActionUpgrade is a Helm upgrade.
	ReleaseActionUpgrade ReleaseAction = "upgrade"
)

// HelmReleaseStatus is the observed state of a HelmRelease.
type HelmReleaseStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the last generation the controller reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastAttemptedGeneration is the last generation the controller tried
	// to reconcile, successfully or not.
	// +optional
	LastAttemptedGeneration int64 `json:"lastAttemptedGeneration,omitempty"`

	// ObservedPostRenderersDigest is the digest of spec.postRenderers at
	// the last successful reconcile.
	// +optional
	ObservedPostRenderersDigest string `json:"observedPostRenderersDigest,omitempty"`

	// ObservedCommonMetadataDigest is the digest of spec.commonMetadata at
	// the last successful reconcile.
	// +optional
	ObservedCommonMetadataDigest string `json:"observedCommonMetadataDigest,omitempty"`

	// Conditions report Ready, Reconciling, Stalled, Released, TestSuccess
	// and Remediated.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// HelmChart is "<namespace>/<name>" of the HelmChart that the
	// controller created for spec.chart.
	// +optional
	HelmChart string `json:"helmChart,omitempty"`

	// StorageNamespace is where Helm stores the current release's history.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	StorageNamespace string `json:"storageNamespace,omitempty"`

	// History holds snapshots of the releases made for this HelmRelease,
	// down to the last one that succeeded.
	// +optional
	History Snapshots `json:"history,omitempty"`

	// LastAttemptedReleaseAction is the last action that made a release,
	// install or upgrade; it decides which retry and remediation settings
	// apply.
	// +kubebuilder:validation:Enum=install;upgrade
	// +optional
	LastAttemptedReleaseAction ReleaseAction `json:"lastAttemptedReleaseAction,omitempty"`

	// LastAttemptedReleaseActionDuration is how long that action took.
	// +optional
	LastAttemptedReleaseActionDuration *metav1.Duration `json:"lastAttemptedReleaseActionDuration,omitempty"`

	// Failures counts failed reconciles of the current desired state. It
	// is reset by a success or a new desired state.
	// +optional
	Failures int64 `json:"failures,omitempty"`

	// InstallFailures counts failed installs of the current desired state.
	// +optional
	InstallFailures int64 `json:"installFailures,omitempty"`

	// UpgradeFailures counts failed upgrades of the current desired state.
	// +optional
	UpgradeFailures int64 `json:"upgradeFailures,omitempty"`

	// LastAttemptedRevision is the chart version of the last reconcile.
	// For charts from an OCIRepository, the first 12 hex digits of the
	// digest are added as build metadata, as in "1.2.3+1a2b3c4d5e6f".
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`

	// LastAttemptedRevisionDigest is the artifact digest of the last
	// reconcile, for charts from an OCIRepository.
	// +optional
	LastAttemptedRevisionDigest string `json:"lastAttemptedRevisionDigest,omitempty"`

	// LastAttemptedConfigDigest is the digest of the values of the last
	// reconcile.
	// +optional
	LastAttemptedConfigDigest string `json:"lastAttemptedConfigDigest,omitempty"`

	// LastAttemptedValuesChecksum is the SHA-1 of the values of the last
	// reconcile.
	//
	// Deprecated: use LastAttemptedConfigDigest.
	// +optional
	LastAttemptedValuesChecksum string `json:"lastAttemptedValuesChecksum,omitempty"`

	// LastReleaseRevision is the version of the last successful release.
	//
	// Deprecated: use History.
	// +optional
	LastReleaseRevision int `json:"lastReleaseRevision,omitempty"`

	// LastHandledForceAt is the last value of the
	// reconcile.fluxcd.io/forceAt annotation that was served.
	// +optional
	LastHandledForceAt string `json:"lastHandledForceAt,omitempty"`

	// LastHandledResetAt is the last value of the
	// reconcile.fluxcd.io/resetAt annotation that was served.
	// +optional
	LastHandledResetAt string `json:"lastHandledResetAt,omitempty"`

	// Inventory lists the Kubernetes objects of the current release.
	// +optional
	Inventory *meta.ResourceInventory `json:"inventory,omitempty"`
}

// ClearHistory forgets the release history.
func (in *HelmReleaseStatus) ClearHistory() {
	in.History = nil
}

// ClearFailures resets the failure counters.
func (in *HelmReleaseStatus) ClearFailures() {
	in.Failures = 0
	in.InstallFailures = 0
	in.UpgradeFailures = 0
}

// GetHelmChart splits status.helmChart into namespace and name; both are
// empty when it is not set.
func (in HelmReleaseStatus) GetHelmChart() (namespace, name string) {
	ns, n, ok := strings.Cut(in.HelmChart, "/")
	if !ok {
		return "", ""
	}
	return ns, n
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hr,categories={all,fluxcd,fluxcd-appliers}
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"

// HelmRelease installs a Helm chart as a release and keeps it in step with
// the declared chart version and values: upgrading, testing, remediating
// failures and correcting drift.
type HelmRelease struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the release.
	// +optional
	Spec HelmReleaseSpec `json:"spec,omitempty"`

	// Status is the observed state of the release.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status HelmReleaseStatus `json:"status,omitempty"`
}

var _ meta.Reconcilable = &HelmRelease{}

// GetConditions returns the status conditions.
func (in *HelmRelease) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *HelmRelease) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval, the time between two reconciles.
func (in *HelmRelease) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *HelmRelease) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *HelmRelease) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest sets status.lastHandledReconcileAt.
func (in *HelmRelease) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

// GetDependsOn returns the HelmReleases that must be ready first.
func (in *HelmRelease) GetDependsOn() []meta.DependencyReference {
	return in.Spec.DependsOn
}

// GetTimeout returns spec.timeout, or 5m when it is not set.
func (in *HelmRelease) GetTimeout() metav1.Duration {
	if in.Spec.Timeout == nil {
		return metav1.Duration{Duration: DefaultTimeout}
	}
	return *in.Spec.Timeout
}

// GetReleaseName returns the Helm release name: spec.releaseName when set,
// otherwise "<targetNamespace>-<name>" or "<name>". A derived name longer
// than 53 characters is cut to 40 and followed by "-" and the first 12 hex
// digits of the SHA-256 of the full name, as Flux does.
func (in *HelmRelease) GetReleaseName() string {
	if in.Spec.ReleaseName != "" {
		return in.Spec.ReleaseName
	}
	name := in.Name
	if in.Spec.TargetNamespace != "" {
		name = in.Spec.TargetNamespace + "-" + in.Name
	}
	return ShortenReleaseName(name)
}

// ShortenReleaseName returns name when it fits in 53 characters, and
// otherwise its first 40 characters, "-", and the first 12 hex digits of
// its SHA-256.
func ShortenReleaseName(name string) string {
	if len(name) <= MaxReleaseNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	keep := MaxReleaseNameLength - releaseNameHashLength - 1
	return name[:keep] + "-" + hex.EncodeToString(sum[:])[:releaseNameHashLength]
}

// GetReleaseNamespace returns spec.targetNamespace, or the HelmRelease's
// namespace.
func (in *HelmRelease) GetReleaseNamespace() string {
	if in.Spec.TargetNamespace != "" {
		return in.Spec.TargetNamespace
	}
	return in.Namespace
}

// GetStorageNamespace returns spec.storageNamespace, or the HelmRelease's
// namespace.
func (in *HelmRelease) GetStorageNamespace() string {
	if in.Spec.StorageNamespace != "" {
		return in.Spec.StorageNamespace
	}
	return in.Namespace
}

// GetHelmChartName returns the name of the HelmChart generated for
// spec.chart: "<namespace>-<name>".
func (in *HelmRelease) GetHelmChartName() string {
	return in.Namespace + "-" + in.Name
}

// GetMaxHistory returns spec.maxHistory, or 5 when it is not set.
func (in *HelmRelease) GetMaxHistory() int {
	if in.Spec.MaxHistory == nil {
		return defaultMaxHistory
	}
	return *in.Spec.MaxHistory
}

// UsePersistentClient returns spec.persistentClient, or true when it is not
// set.
func (in *HelmRelease) UsePersistentClient() bool {
	return in.Spec.PersistentClient == nil || *in.Spec.PersistentClient
}

// GetValues decodes spec.values into a map; it returns nil when there are
// none or they are not a JSON object.
func (in *HelmRelease) GetValues() map[string]any {
	if in.Spec.Values == nil || len(in.Spec.Values.Raw) == 0 {
		return nil
	}
	var values map[string]any
	if err := json.Unmarshal(in.Spec.Values.Raw, &values); err != nil {
		return nil
	}
	return values
}

// GetDriftDetection returns spec.driftDetection, empty when not set.
func (in *HelmRelease) GetDriftDetection() DriftDetection {
	if in.Spec.DriftDetection == nil {
		return DriftDetection{}
	}
	return *in.Spec.DriftDetection
}

// GetInstall returns spec.install, empty when not set.
func (in *HelmRelease) GetInstall() Install {
	if in.Spec.Install == nil {
		return Install{}
	}
	return *in.Spec.Install
}

// GetUpgrade returns spec.upgrade, empty when not set.
func (in *HelmRelease) GetUpgrade() Upgrade {
	if in.Spec.Upgrade == nil {
		return Upgrade{}
	}
	return *in.Spec.Upgrade
}

// GetTest returns spec.test, empty when not set.
func (in *HelmRelease) GetTest() Test {
	if in.Spec.Test == nil {
		return Test{}
	}
	return *in.Spec.Test
}

// GetRollback returns spec.rollback, empty when not set.
func (in *HelmRelease) GetRollback() Rollback {
	if in.Spec.Rollback == nil {
		return Rollback{}
	}
	return *in.Spec.Rollback
}

// GetUninstall returns spec.uninstall, empty when not set.
func (in *HelmRelease) GetUninstall() Uninstall {
	if in.Spec.Uninstall == nil {
		return Uninstall{}
	}
	return *in.Spec.Uninstall
}

// GetWaitStrategy returns the name of spec.waitStrategy, or poller when it
// is not set.
func (in *HelmRelease) GetWaitStrategy() string {
	if in.Spec.WaitStrategy == nil || in.Spec.WaitStrategy.Name == "" {
		return WaitStrategyPoller
	}
	return in.Spec.WaitStrategy.Name
}

// GetPostRenderStrategy returns spec.postRenderStrategy, or combined when it
// is not set.
func (in *HelmRelease) GetPostRenderStrategy() string {
	if in.Spec.PostRenderStrategy == "" {
		return PostRenderStrategyCombined
	}
	return in.Spec.PostRenderStrategy
}

// GetActiveRemediation returns the remediation settings of the last
// attempted release action, or nil when no release was attempted.
func (in *HelmRelease) GetActiveRemediation() Remediation {
	switch in.Status.LastAttemptedReleaseAction {
	case ReleaseActionInstall:
		return in.GetInstall().GetRemediation()
	case ReleaseActionUpgrade:
		return in.GetUpgrade().GetRemediation()
	default:
		return nil
	}
}

// HasChartRef reports whether spec.chartRef is set.
func (in *HelmRelease) HasChartRef() bool {
	return in.Spec.ChartRef != nil
}

// HasChartTemplate reports whether spec.chart is set.
func (in *HelmRelease) HasChartTemplate() bool {
	return in.Spec.Chart != nil
}

// +kubebuilder:object:root=true

// HelmReleaseList is a list of HelmReleases.
type HelmReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the HelmReleases.
	Items []HelmRelease `json:"items"`
}

func init() {
	register(&HelmRelease{}, &HelmReleaseList{})
}
