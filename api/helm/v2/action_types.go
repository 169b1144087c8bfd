package v2

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CRDsPolicy chooses what a Helm install or upgrade does with the CRDs in
// the chart's crds/ directory.
type CRDsPolicy string

const (
	// Skip leaves CRDs alone: none is created or updated.
	Skip CRDsPolicy = "Skip"

	// Create creates missing CRDs and leaves existing ones unchanged. The
	// default on install.
	Create CRDsPolicy = "Create"

	// CreateReplace creates missing CRDs and replaces existing ones with
	// the chart's. CRDs that left the chart are never deleted.
	CreateReplace CRDsPolicy = "CreateReplace"
)

// RemediationStrategy is what is done to recover from a failed upgrade.
type RemediationStrategy string

const (
	// RollbackRemediationStrategy rolls back to the last successful
	// release.
	RollbackRemediationStrategy RemediationStrategy = "rollback"

	// UninstallRemediationStrategy uninstalls the release.
	UninstallRemediationStrategy RemediationStrategy = "uninstall"
)

// Names of an install or upgrade strategy.
const (
	// ActionStrategyRemediateOnFailure remediates a failed release (see
	// the remediation settings) and tries again at the next reconcile.
	ActionStrategyRemediateOnFailure = "RemediateOnFailure"

	// ActionStrategyRetryOnFailure leaves a failed release as it is and
	// retries the action after the strategy's retryInterval.
	ActionStrategyRetryOnFailure = "RetryOnFailure"
)

// DefaultActionRetryInterval is how soon RetryOnFailure retries when the
// strategy sets no retryInterval.
const DefaultActionRetryInterval = 5 * time.Minute

// Values of the serverSideApply field of upgrade and rollback.
const (
	// ServerSideApplyEnabled always uses server-side apply.
	ServerSideApplyEnabled = "enabled"

	// ServerSideApplyDisabled always uses client-side apply.
	ServerSideApplyDisabled = "disabled"

	// ServerSideApplyAuto does as the release being replaced did. The
	// default.
	ServerSideApplyAuto = "auto"
)

// Values of upgrade.chartNameChangeStrategy.
const (
	// ChartNameChangeReinstall uninstalls the release and installs the
	// renamed chart. This is the default.
	ChartNameChangeReinstall = "Reinstall"

	// ChartNameChangeInPlaceUpdate upgrades the release in place to the
	// renamed chart.
	ChartNameChangeInPlaceUpdate = "InPlaceUpdate"
)

// Remediation is the common view of InstallRemediation and
// UpgradeRemediation that the controller works with.
// +kubebuilder:object:generate=false
type Remediation interface {
	// GetRetries returns how many times a failed action is retried; a
	// negative number means forever.
	GetRetries() int
	// MustIgnoreTestFailures reports whether failed tests are ignored,
	// falling back to def.
	MustIgnoreTestFailures(def bool) bool
	// MustRemediateLastFailure reports whether the last failure, once
	// the retries are spent, is remediated too.
	MustRemediateLastFailure() bool
	// GetStrategy returns how a failure is remediated.
	GetStrategy() RemediationStrategy
	// GetFailureCount returns the failures of this action so far.
	GetFailureCount(hr *HelmRelease) int64
	// IncrementFailureCount counts one more failure of this action.
	IncrementFailureCount(hr *HelmRelease)
	// RetriesExhausted reports whether no retry is left.
	RetriesExhausted(hr *HelmRelease) bool
}

// Test configures the Helm tests run after an install or upgrade.
type Test struct {
	// Enable runs the chart's tests after each install and upgrade.
	// +optional
	Enable bool `json:"enable,omitempty"`

	// Timeout for each Kubernetes operation of the tests. Defaults to
	// spec.timeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// IgnoreFailures does not count failed tests as a release failure, so
	// they trigger no remediation. install.remediation and
	// upgrade.remediation can override it.
	// +optional
	IgnoreFailures bool `json:"ignoreFailures,omitempty"`

	// Filters choose which tests run: when any filter includes tests, only
	// those run; tests that a filter excludes never run.
	// +optional
	Filters []Filter `json:"filters,omitempty"`
}

// GetTimeout returns the test timeout, or def when it is not set.
func (in Test) GetTimeout(def metav1.Duration) metav1.Duration {
	if in.Timeout == nil {
		return def
	}
	return *in.Timeout
}

// GetFilters returns the test filters.
func (in Test) GetFilters() []Filter {
	return in.Filters
}

// Filter includes or excludes one Helm test by name.
type Filter struct {
	// Name of the test.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Exclude skips the test instead of selecting it.
	// +optional
	Exclude bool `json:"exclude,omitempty"`
}

// Rollback configures the Helm rollback done to remediate a failed upgrade.
type Rollback struct {
	// Timeout for each Kubernetes operation of the rollback, such as a hook
	// Job. Defaults to spec.timeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// DisableWait skips waiting for the rolled-back resources to be ready.
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`

	// DisableWaitForJobs skips waiting for Jobs to complete after the
	// rollback.
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`

	// DisableHooks skips the chart's hooks during the rollback.
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`

	// Recreate restarted the pods of the workloads; Helm 4 dropped it.
	//
	// Deprecated: it has no effect and will be removed.
	// +optional
	Recreate bool `json:"recreate,omitempty"`

	// Force replaces resources (delete and recreate) when a client-side
	// update conflicts. Server-side apply always forces.
	// +optional
	Force bool `json:"force,omitempty"`

	// CleanupOnFail deletes the resources that a failed rollback created.
	// +optional
	CleanupOnFail bool `json:"cleanupOnFail,omitempty"`

	// ServerSideApply chooses whether the rollback uses server-side apply:
	// enabled, disabled, or auto (the default: as the release did before).
	// +kubebuilder:validation:Enum=enabled;disabled;auto
	// +optional
	ServerSideApply string `json:"serverSideApply,omitempty"`
}

// GetTimeout returns the rollback timeout, or def when it is not set.
func (in Rollback) GetTimeout(def metav1.Duration) metav1.Duration {
	if in.Timeout == nil {
		return def
	}
	return *in.Timeout
}

// Uninstall configures the Helm uninstall done when the HelmRelease is
// deleted or an install is remediated.
type Uninstall struct {
	// Timeout for each Kubernetes operation of the uninstall, such as a
	// hook Job. Defaults to spec.timeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// DisableHooks skips the chart's hooks during the uninstall.
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`

	// KeepHistory deletes the release's resources but keeps its history,
	// marking the release as uninstalled.
	// +optional
	KeepHistory bool `json:"keepHistory,omitempty"`

	// DisableWait skips waiting for the resources to be deleted.
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`

	// DeletionPropagation is the propagation policy of the deletes:
	// background (the default), foreground or orphan.
	// +kubebuilder:default=background
	// +kubebuilder:validation:Enum=background;foreground;orphan
	// +optional
	DeletionPropagation *string `json:"deletionPropagation,omitempty"`
}

// GetTimeout returns the uninstall timeout, or def when it is not set.
func (in Uninstall) GetTimeout(def metav1.Duration) metav1.Duration {
	if in.Timeout == nil {
		return def
	}
	return *in.Timeout
}

// GetDeletionPropagation returns DeletionPropagation, or background when
// it is not set.
func (in Uninstall) GetDeletionPropagation() string {
	if in.DeletionPropagation == nil {
		return "background"
	}
	return *in.DeletionPropagation
}
