package v1

import "github.com/gotk-dev/gotk/api/meta"

// SourceFinalizer is the finalizer the source controllers put on their
// objects, so the stored artifacts are removed before the object is.
const SourceFinalizer = meta.Finalizer

// Condition types that source kinds set besides Ready, Reconciling and
// Stalled. They repeat the api/meta values so that code working with this
// group needs only one import. All but ArtifactInStorage and SourceVerified
// have negative polarity: they are only present, and True, while something
// is wrong.
const (
	// ArtifactInStorageCondition is True while the artifact in status is
	// present in storage and can be downloaded.
	ArtifactInStorageCondition = meta.ArtifactInStorageCondition

	// ArtifactOutdatedCondition is True when the upstream has moved on (new
	// revision, changed spec) and the stored artifact no longer reflects it.
	ArtifactOutdatedCondition = meta.ArtifactOutdatedCondition

	// SourceVerifiedCondition reports the outcome of signature verification;
	// it is only present when spec.verify is set.
	SourceVerifiedCondition = meta.SourceVerifiedCondition

	// FetchFailedCondition is True when the upstream could not be reached or
	// read, so the artifact may be stale.
	FetchFailedCondition = meta.FetchFailedCondition

	// BuildFailedCondition is True when the fetched content could not be
	// turned into an artifact (packaging a chart, extracting a layer, ...).
	BuildFailedCondition = meta.BuildFailedCondition

	// StorageOperationFailedCondition is True when writing, archiving or
	// linking the artifact in local storage failed.
	StorageOperationFailedCondition = meta.StorageOperationFailedCondition

	// IncludeUnavailableCondition is True, on a GitRepository, when one of
	// the repositories in spec.include is missing or has no artifact yet.
	IncludeUnavailableCondition = meta.IncludeUnavailableCondition
)

// Reasons that source controllers give in their conditions and events. They
// are helpers for writing and matching conditions; the set may grow.
const (
	// URLInvalidReason: spec.url (or spec.endpoint) cannot be parsed or has
	// an unsupported scheme.
	URLInvalidReason = "URLInvalid"

	// AuthenticationFailedReason: the referenced Secret lacks required keys,
	// or the upstream rejected the credentials.
	AuthenticationFailedReason = meta.AuthenticationFailedReason

	// VerificationErrorReason: the signature of the fetched content could
	// not be verified against the trusted keys or identities.
	VerificationErrorReason = meta.VerificationErrorReason

	// DirCreationFailedReason: a directory in storage or a temporary
	// working directory could not be created.
	DirCreationFailedReason = "DirectoryCreationFailed"

	// StatOperationFailedReason: a stat of a path in storage failed.
	StatOperationFailedReason = "StatOperationFailed"

	// ReadOperationFailedReason: reading a file (a Secret-derived key, a
	// chart, an index) failed.
	ReadOperationFailedReason = "ReadOperationFailed"

	// AcquireLockFailedReason: the lock on the artifact in storage could not
	// be taken.
	AcquireLockFailedReason = "AcquireLockFailed"

	// InvalidPathReason: a path in the spec (include paths, values files)
	// escapes its root or does not exist.
	InvalidPathReason = "InvalidPath"

	// ArchiveOperationFailedReason: packing the fetched content into the
	// artifact tarball failed.
	ArchiveOperationFailedReason = "ArchiveOperationFailed"

	// SymlinkUpdateFailedReason: pointing the "latest" link in storage at
	// the new artifact failed.
	SymlinkUpdateFailedReason = "SymlinkUpdateFailed"

	// ArtifactUpToDateReason: the stored artifact already matches the
	// upstream revision, so nothing was rebuilt.
	ArtifactUpToDateReason = "ArtifactUpToDate"

	// CacheOperationFailedReason: reading or writing the in-memory cache
	// (of Helm indexes) failed.
	CacheOperationFailedReason = "CacheOperationFailed"

	// PatchOperationFailedReason: patching the object in the API server
	// failed.
	PatchOperationFailedReason = "PatchOperationFailed"

	// InvalidSTSConfigurationReason: the Bucket's spec.sts does not fit
	// its provider.
	InvalidSTSConfigurationReason = "InvalidSTSConfiguration"

	// InvalidProviderConfigurationReason: the configuration of the cloud
	// provider (workload identity, service account) is incomplete or wrong.
	InvalidProviderConfigurationReason = "InvalidProviderConfiguration"
)

// Reasons specific to GitRepository.
const (
	// GitOperationSucceededReason: cloning and checking out the reference
	// succeeded.
	GitOperationSucceededReason = "GitOperationSucceeded"

	// GitOperationFailedReason: cloning, fetching or checking out failed.
	GitOperationFailedReason = meta.GitOperationFailedReason
)

// Reasons specific to OCIRepository.
const (
	// OCIPullFailedReason: resolving or pulling the OCI artifact failed.
	OCIPullFailedReason = "OCIArtifactPullFailed"

	// OCILayerOperationFailedReason: the selected layer is missing or could
	// not be extracted or copied.
	OCILayerOperationFailedReason = "OCIArtifactLayerOperationFailed"
)

// Reasons specific to HelmRepository.
const (
	// IndexationFailedReason: the repository index could not be downloaded
	// or parsed.
	IndexationFailedReason = "IndexationFailed"

	// IndexationSucceededReason: the repository index was downloaded and
	// parsed. The value is the one Flux has always used.
	IndexationSucceededReason = "IndexationSucceed"
)

// Reasons specific to HelmChart.
const (
	// ChartPullFailedReason: the chart could not be pulled from its
	// HelmRepository.
	ChartPullFailedReason = "ChartPullFailed"

	// ChartPullSucceededReason: the chart was pulled from its
	// HelmRepository.
	ChartPullSucceededReason = "ChartPullSucceeded"

	// ChartPackageFailedReason: the chart could not be packaged from the
	// GitRepository or Bucket artifact (bad path, bad values files, broken
	// dependencies).
	ChartPackageFailedReason = "ChartPackageFailed"

	// ChartPackageSucceededReason: the chart was packaged from the
	// GitRepository or Bucket artifact.
	ChartPackageSucceededReason = "ChartPackageSucceeded"
)

// Reasons specific to Bucket.
const (
	// BucketOperationSucceededReason: listing and downloading the objects
	// of the bucket succeeded.
	BucketOperationSucceededReason = "BucketOperationSucceeded"

	// BucketOperationFailedReason: listing or downloading the objects of
	// the bucket failed.
	BucketOperationFailedReason = "BucketOperationFailed"
)
