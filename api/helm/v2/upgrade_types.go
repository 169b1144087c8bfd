package v2

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upgrade configures the Helm upgrade of an existing release.
type Upgrade struct {
	// Timeout for each Kubernetes operation of the upgrade, such as a hook
	// Job. Defaults to spec.timeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Strategy chooses what happens when the upgrade fails. Defaults to
	// RemediateOnFailure.
	// +kubebuilder:validation:XValidation:rule="!has(self.retryInterval) || self.name == 'RetryOnFailure'",message=".retryInterval can only be set when .name is 'RetryOnFailure'"
	// +optional
	Strategy *UpgradeStrategy `json:"strategy,omitempty"`

	// Remediation configures retries and recovery of a failed upgrade. By
	// default a failed upgrade is not retried.
	// +optional
	Remediation *UpgradeRemediation `json:"remediation,omitempty"`

	// DisableWait skips waiting for the upgraded resources to be ready.
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`

	// DisableWaitForJobs skips waiting for the upgraded Jobs to complete.
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`

	// DisableHooks skips the chart's hooks during the upgrade.
	// +optional
	DisableHooks bool `json:"disableHooks,omitempty"`

	// DisableOpenAPIValidation skips validating the rendered manifests
	// against the cluster's OpenAPI schema.
	// +optional
	DisableOpenAPIValidation bool `json:"disableOpenAPIValidation,omitempty"`

	// DisableSchemaValidation skips validating the values against the
	// chart's values.schema.json.
	// +optional
	DisableSchemaValidation bool `json:"disableSchemaValidation,omitempty"`

	// DisableTakeOwnership stops the upgrade from adopting resources that
	// already exist in the cluster; it then fails on them instead.
	// +optional
	DisableTakeOwnership bool `json:"disableTakeOwnership,omitempty"`

	// Force replaces resources (delete and recreate) when a client-side
	// update conflicts. Server-side apply always forces.
	// +optional
	Force bool `json:"force,omitempty"`

	// PreserveValues reuses the values of the last release and merges the
	// declared values over them. The release then depends on history, not
	// only on what Git declares.
	// +optional
	PreserveValues bool `json:"preserveValues,omitempty"`

	// CleanupOnFail deletes the resources that a failed upgrade created.
	// +optional
	CleanupOnFail bool `json:"cleanupOnFail,omitempty"`

	// CRDs chooses what the upgrade does with the chart's CRDs: Skip (the
	// default), Create or CreateReplace.
	// +kubebuilder:validation:Enum=Skip;Create;CreateReplace
	// +optional
	CRDs CRDsPolicy `json:"crds,omitempty"`

	// ServerSideApply chooses whether the upgrade uses server-side apply:
	// enabled, disabled, or auto (the default: as the release did before).
	// +kubebuilder:validation:Enum=enabled;disabled;auto
	// +optional
	ServerSideApply string `json:"serverSideApply,omitempty"`

	// ChartNameChangeStrategy chooses what happens when the chart's name
	// changes: Reinstall (the default: uninstall, then install) or
	// InPlaceUpdate (upgrade to the renamed chart).
	// +kubebuilder:validation:Enum=InPlaceUpdate;Reinstall
	// +optional
	ChartNameChangeStrategy string `json:"chartNameChangeStrategy,omitempty"`
}

// GetTimeout returns the upgrade timeout, or def when it is not set.
func (in Upgrade) GetTimeout(def metav1.Duration) metav1.Duration {
	if in.Timeout == nil {
		return def
	}
	return *in.Timeout
}

// GetRemediation returns the upgrade remediation settings, empty when not
// set.
func (in Upgrade) GetRemediation() Remediation {
	if in.Remediation == nil {
		return UpgradeRemediation{}
	}
	return *in.Remediation
}

// GetStrategy returns the upgrade strategy, RemediateOnFailure when not
// set.
func (in Upgrade) GetStrategy() UpgradeStrategy {
	if in.Strategy == nil {
		return UpgradeStrategy{Name: ActionStrategyRemediateOnFailure}
	}
	return *in.Strategy
}

// GetServerSideApply returns ServerSideApply, or auto when it is not set.
func (in Upgrade) GetServerSideApply() string {
	if in.ServerSideApply == "" {
		return ServerSideApplyAuto
	}
	return in.ServerSideApply
}

// GetChartNameChangeStrategy returns ChartNameChangeStrategy, or Reinstall
// when it is not set.
func (in Upgrade) GetChartNameChangeStrategy() string {
	if in.ChartNameChangeStrategy == "" {
		return ChartNameChangeReinstall
	}
	return in.ChartNameChangeStrategy
}

// UpgradeStrategy chooses what happens when an upgrade fails.
type UpgradeStrategy struct {
	// Name of the strategy: RemediateOnFailure or RetryOnFailure.
	// +kubebuilder:validation:Enum=RemediateOnFailure;RetryOnFailure
	// +required
	Name string `json:"name"`

	// RetryInterval is how soon RetryOnFailure retries a failed upgrade.
	// Defaults to 5m. Only valid with RetryOnFailure.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
}

// GetRetryInterval returns RetryInterval, or 5m when it is not set.
func (in UpgradeStrategy) GetRetryInterval() time.Duration {
	if in.RetryInterval == nil {
		return DefaultActionRetryInterval
	}
	return in.RetryInterval.Duration
}

// UpgradeRemediation configures retries of a failed upgrade and how the
// release is recovered between two attempts.
type UpgradeRemediation struct {
	// Retries is how many times a failed upgrade is retried, remediating
	// with Strategy in between. 0 (the default) means never; a negative
	// number means forever.
	// +optional
	Retries int `json:"retries,omitempty"`

	// IgnoreTestFailures does not count failed tests after an upgrade as
	// a failure. Defaults to test.ignoreFailures.
	// +optional
	IgnoreTestFailures *bool `json:"ignoreTestFailures,omitempty"`

	// RemediateLastFailure remediates the last failed attempt too, once the
	// retries are spent. Defaults to true when Retries is above 0, false
	// otherwise.
	// +optional
	RemediateLastFailure *bool `json:"remediateLastFailure,omitempty"`

	// Strategy is how a failed upgrade is remediated: rollback (the
	// default) or uninstall.
	// +kubebuilder:validation:Enum=rollback;uninstall
	// +optional
	Strategy *RemediationStrategy `json:"strategy,omitempty"`
}

// GetRetries returns Retries.
func (in UpgradeRemediation) GetRetries() int {
	return in.Retries
}

// MustIgnoreTestFailures returns IgnoreTestFailures, or def when it is not
// set.
func (in UpgradeRemediation) MustIgnoreTestFailures(def bool) bool {
	if in.IgnoreTestFailures == nil {
		return def
	}
	return *in.IgnoreTestFailures
}

// MustRemediateLastFailure returns RemediateLastFailure, or whether
// Retries is above 0 when it is not set.
func (in UpgradeRemediation) MustRemediateLastFailure() bool {
	if in.RemediateLastFailure == nil {
		return in.Retries > 0
	}
	return *in.RemediateLastFailure
}

// GetStrategy returns Strategy, or rollback when it is not set.
func (in UpgradeRemediation) GetStrategy() RemediationStrategy {
	if in.Strategy == nil {
		return RollbackRemediationStrategy
	}
	return *in.Strategy
}

// GetFailureCount returns status.upgradeFailures.
func (in UpgradeRemediation) GetFailureCount(hr *HelmRelease) int64 {
	return hr.Status.UpgradeFailures
}

// IncrementFailureCount adds one to status.upgradeFailures.
func (in UpgradeRemediation) IncrementFailureCount(hr *HelmRelease) {
	hr.Status.UpgradeFailures++
}

// RetriesExhausted reports whether the upgrade failed more often than
// Retries allows.
func (in UpgradeRemediation) RetriesExhausted(hr *HelmRelease) bool {
	return in.Retries >= 0 && in.GetFailureCount(hr) > int64(in.Retries)
}
