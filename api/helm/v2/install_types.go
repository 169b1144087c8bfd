package v2

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Install configures the Helm install of a release that does not exist yet.
type Install struct {
	// Timeout for each Kubernetes operation of the install, such as a hook
	// Job. Defaults to spec.timeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Strategy chooses what happens when the install fails. Defaults to
	// RemediateOnFailure.
	// +kubebuilder:validation:XValidation:rule="!has(self.retryInterval) || self.name != 'RemediateOnFailure'",message=".retryInterval cannot be set when .name is 'RemediateOnFailure'"
	// +optional
	Strategy *InstallStrategy `json:"strategy,omitempty"`

	// Remediation configures retries and recovery of a failed install. By
	// default a failed install is not retried.
	// +optional
	Remediation *InstallRemediation `json:"remediation,omitempty"`

	// DisableWait skips waiting for the installed resources to be ready.
	// +optional
	DisableWait bool `json:"disableWait,omitempty"`

	// DisableWaitForJobs skips waiting for the installed Jobs to complete.
	// +optional
	DisableWaitForJobs bool `json:"disableWaitForJobs,omitempty"`

	// DisableHooks skips the chart's hooks during the install.
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

	// DisableTakeOwnership stops the install from adopting resources that
	// already exist in the cluster; it then fails on them instead.
	// +optional
	DisableTakeOwnership bool `json:"disableTakeOwnership,omitempty"`

	// Replace reuses the release name when it belongs to a deleted release
	// whose history was kept.
	// +optional
	Replace bool `json:"replace,omitempty"`

	// SkipCRDs skips installing the chart's CRDs.
	//
	// Deprecated: set CRDs to Skip instead.
	// +optional
	SkipCRDs bool `json:"skipCRDs,omitempty"`

	// CRDs chooses what the install does with the chart's CRDs: Skip,
	// Create (the default) or CreateReplace.
	// +kubebuilder:validation:Enum=Skip;Create;CreateReplace
	// +optional
	CRDs CRDsPolicy `json:"crds,omitempty"`

	// CreateNamespace creates the target namespace when it does not exist.
	// The namespace is not deleted on uninstall.
	// +optional
	CreateNamespace bool `json:"createNamespace,omitempty"`

	// ServerSideApply applies the release's resources with server-side
	// apply. Defaults to true.
	// +optional
	ServerSideApply *bool `json:"serverSideApply,omitempty"`
}

// GetTimeout returns the install timeout, or def when it is not set.
func (in Install) GetTimeout(def metav1.Duration) metav1.Duration {
	if in.Timeout == nil {
		return def
	}
	return *in.Timeout
}

// GetRemediation returns the install remediation settings, empty when not
// set.
func (in Install) GetRemediation() Remediation {
	if in.Remediation == nil {
		return InstallRemediation{}
	}
	return *in.Remediation
}

// GetStrategy returns the install strategy, RemediateOnFailure when not
// set.
func (in Install) GetStrategy() InstallStrategy {
	if in.Strategy == nil {
		return InstallStrategy{Name: ActionStrategyRemediateOnFailure}
	}
	return *in.Strategy
}

// InstallStrategy chooses what happens when an install fails.
type InstallStrategy struct {
	// Name of the strategy: RemediateOnFailure or RetryOnFailure.
	// +kubebuilder:validation:Enum=RemediateOnFailure;RetryOnFailure
	// +required
	Name string `json:"name"`

	// RetryInterval is how soon RetryOnFailure retries a failed install.
	// Defaults to 5m. Only valid with RetryOnFailure.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
}

// GetRetryInterval returns RetryInterval, or 5m when it is not set.
func (in InstallStrategy) GetRetryInterval() time.Duration {
	if in.RetryInterval == nil {
		return DefaultActionRetryInterval
	}
	return in.RetryInterval.Duration
}

// InstallRemediation configures retries of a failed install; between two
// attempts the failed release is uninstalled.
type InstallRemediation struct {
	// Retries is how many times a failed install is retried. 0 (the
	// default) means never; a negative number means forever.
	// +optional
	Retries int `json:"retries,omitempty"`

	// IgnoreTestFailures does not count failed tests after an install as
	// a failure. Defaults to test.ignoreFailures.
	// +optional
	IgnoreTestFailures *bool `json:"ignoreTestFailures,omitempty"`

	// RemediateLastFailure uninstalls the release after the last failed
	// attempt too, once the retries are spent. Defaults to false.
	// +optional
	RemediateLastFailure *bool `json:"remediateLastFailure,omitempty"`
}

// GetRetries returns Retries.
func (in InstallRemediation) GetRetries() int {
	return in.Retries
}

// MustIgnoreTestFailures returns IgnoreTestFailures, or def when it is not
// set.
func (in InstallRemediation) MustIgnoreTestFailures(def bool) bool {
	if in.IgnoreTestFailures == nil {
		return def
	}
	return *in.IgnoreTestFailures
}

// MustRemediateLastFailure returns RemediateLastFailure, false when it is
// not set.
func (in InstallRemediation) MustRemediateLastFailure() bool {
	return in.RemediateLastFailure != nil && *in.RemediateLastFailure
}

// GetStrategy returns uninstall: the only way to undo a failed install.
func (in InstallRemediation) GetStrategy() RemediationStrategy {
	return UninstallRemediationStrategy
}

// GetFailureCount returns status.installFailures.
func (in InstallRemediation) GetFailureCount(hr *HelmRelease) int64 {
	return hr.Status.InstallFailures
}

// IncrementFailureCount adds one to status.installFailures.
func (in InstallRemediation) IncrementFailureCount(hr *HelmRelease) {
	hr.Status.InstallFailures++
}

// RetriesExhausted reports whether the install failed more often than
// Retries allows.
func (in InstallRemediation) RetriesExhausted(hr *HelmRelease) bool {
	return in.Retries >= 0 && in.GetFailureCount(hr) > int64(in.Retries)
}
