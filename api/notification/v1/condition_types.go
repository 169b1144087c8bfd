package v1

// Reasons that the notification kinds use on their conditions, in addition
// to the shared ones in api/meta.
const (
	// InitializedReason: the object was set up and is ready to serve.
	InitializedReason = "Initialized"

	// ValidationFailedReason: part of the spec could not be validated, such
	// as a CEL filter that does not compile.
	ValidationFailedReason = "ValidationFailed"

	// TokenNotFoundReason: the Secret that holds the receiver token is
	// missing, or has no "token" key.
	TokenNotFoundReason = "TokenNotFound"

	// InvalidConfigReason: part of the configuration cannot be used, such as
	// a regular expression that does not compile.
	InvalidConfigReason = "InvalidConfig"

	// NotificationDispatchFailedReason: posting a notification to a provider
	// failed.
	NotificationDispatchFailedReason = "NotificationDispatchFailed"
)
