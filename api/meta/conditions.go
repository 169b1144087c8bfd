package meta

// Condition types that every controller sets, following kstatus: Ready is
// the summary; Reconciling and Stalled have negative polarity (True means
// work in progress, or trouble that a retry cannot fix).
const (
	ReadyCondition       = "Ready"
	ReconcilingCondition = "Reconciling"
	StalledCondition     = "Stalled"
	HealthyCondition     = "Healthy"
)

// Condition types of source kinds.
const (
	ArtifactInStorageCondition      = "ArtifactInStorage"
	ArtifactOutdatedCondition       = "ArtifactOutdated"
	SourceVerifiedCondition         = "SourceVerified"
	FetchFailedCondition            = "FetchFailed"
	BuildFailedCondition            = "BuildFailed"
	StorageOperationFailedCondition = "StorageOperationFailed"
	IncludeUnavailableCondition     = "IncludeUnavailable"
)

// Reasons shared by all kinds. Kind-specific reasons live in the kind's
// API package.
const (
	SucceededReason               = "Succeeded"
	FailedReason                  = "Failed"
	ProgressingReason             = "Progressing"
	ProgressingWithRetryReason    = "ProgressingWithRetry"
	SuspendedReason               = "Suspended"
	DependencyNotReadyReason      = "DependencyNotReady"
	ReconciliationSucceededReason = "ReconciliationSucceeded"
	ReconciliationFailedReason    = "ReconciliationFailed"
	ArtifactFailedReason          = "ArtifactFailed"
	BuildFailedReason             = "BuildFailed"
	HealthCheckFailedReason       = "HealthCheckFailed"
	PruneFailedReason             = "PruneFailed"
	InvalidSpecReason             = "InvalidSpec"
	AccessDeniedReason            = "AccessDenied"
	AuthenticationFailedReason    = "AuthenticationFailed"
	VerificationErrorReason       = "VerificationError"
	GitOperationFailedReason      = "GitOperationFailed"
	StorageOperationFailedReason  = "StorageOperationFailed"
	NewRevisionReason             = "NewRevision"
	InvalidURLReason              = "InvalidURL"
	DeletingReason                = "Deleting"
)
