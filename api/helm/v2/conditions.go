package v2

// Condition types that a HelmRelease has besides those in api/meta (Ready,
// Reconciling, Stalled, Healthy).
const (
	// ReleasedCondition reports the outcome of the last install or upgrade
	// of the desired state.
	ReleasedCondition = "Released"

	// TestSuccessCondition reports the outcome of the last Helm test run
	// of the desired state.
	TestSuccessCondition = "TestSuccess"

	// RemediatedCondition reports the last rollback or uninstall done to
	// recover from a failed release.
	RemediatedCondition = "Remediated"
)

// Reasons that only a HelmRelease uses; the shared ones are in api/meta.
const (
	InstallSucceededReason     = "InstallSucceeded"
	InstallFailedReason        = "InstallFailed"
	UpgradeSucceededReason     = "UpgradeSucceeded"
	UpgradeFailedReason        = "UpgradeFailed"
	TestSucceededReason        = "TestSucceeded"
	TestFailedReason           = "TestFailed"
	RollbackSucceededReason    = "RollbackSucceeded"
	RollbackFailedReason       = "RollbackFailed"
	UninstallSucceededReason   = "UninstallSucceeded"
	UninstallFailedReason      = "UninstallFailed"
	InitFailedReason           = "InitFailed"
	GetLastReleaseFailedReason = "GetLastReleaseFailed"
	DriftDetectedReason        = "DriftDetected"
)
