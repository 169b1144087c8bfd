package v1

// Reasons that the image kinds use on their conditions, in addition to the
// shared ones in api/meta (AuthenticationFailed, DependencyNotReady,
// GitOperationFailed, ...).
const (
	// ImageURLInvalidReason: spec.image is not a valid image repository
	// name.
	ImageURLInvalidReason = "ImageURLInvalid"

	// ReadOperationFailedReason: reading tags from the registry, or the
	// stored scan result, failed.
	ReadOperationFailedReason = "ReadOperationFailed"

	// IntervalNotConfiguredReason: a required interval is missing.
	IntervalNotConfiguredReason = "IntervalNotConfigured"

	// InvalidUpdateStrategyReason: spec.update names a strategy that is
	// not supported.
	InvalidUpdateStrategyReason = "InvalidUpdateStrategy"

	// InvalidSourceConfigReason: spec.sourceRef or spec.git cannot be used,
	// such as a push branch without a checkout.
	InvalidSourceConfigReason = "InvalidSourceConfiguration"

	// SourceManagerFailedReason: preparing the Git checkout failed.
	SourceManagerFailedReason = "SourceManagerFailed"

	// UpdateFailedReason: rewriting the manifests in the checkout failed.
	UpdateFailedReason = "UpdateFailed"

	// InvalidPolicySelectorReason: spec.policySelector is not a valid
	// label selector.
	InvalidPolicySelectorReason = "InvalidPolicySelector"

	// RemovedTemplateFieldReason: the commit message template uses a field
	// that no longer exists (such as .Updated; use .Changed).
	RemovedTemplateFieldReason = "RemovedTemplateField"
)
