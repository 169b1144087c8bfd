package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// Authentication providers of a GitRepository.
const (
	// GitProviderGeneric authenticates with the credentials of
	// spec.secretRef, if any.
	GitProviderGeneric = "generic"
	// GitProviderAzure authenticates to Azure DevOps with an Azure workload
	// identity.
	GitProviderAzure = "azure"
	// GitProviderGitHub authenticates as a GitHub App whose credentials are
	// in spec.secretRef.
	GitProviderGitHub = "github"
	// GitProviderAWS authenticates to AWS CodeCommit with an AWS workload
	// identity.
	GitProviderAWS = "aws"
)

// GitVerificationMode says which Git objects must carry a trusted
// signature.
type GitVerificationMode string

const (
	// ModeGitHEAD verifies the commit that was checked out.
	ModeGitHEAD GitVerificationMode = "HEAD"
	// ModeGitTag verifies the annotated tag given in spec.ref.
	ModeGitTag GitVerificationMode = "Tag"
	// ModeGitTagAndHEAD verifies both the tag and the commit it points to.
	ModeGitTagAndHEAD GitVerificationMode = "TagAndHEAD"
)

// Valid reports whether m is one of the known modes.
func (m GitVerificationMode) Valid() bool {
	switch m {
	case ModeGitHEAD, ModeGitTag, ModeGitTagAndHEAD:
		return true
	}
	return false
}

// GitRepositorySpec says which Git repository and reference to fetch, how
// to authenticate and verify it, and what to leave out of the artifact.
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))",message="serviceAccountName can only be set when provider is 'azure' or 'aws'"
type GitRepositorySpec struct {
	// URL of the repository, over HTTP(S) (https://host/org/repo) or SSH
	// (ssh://git@host/org/repo).
	// +kubebuilder:validation:Pattern="^(http|https|ssh)://.*$"
	// +required
	URL string `json:"url"`

	// SecretRef names a Secret in the same namespace with the credentials:
	// "username" and "password", or "bearerToken", for HTTPS; "identity",
	// "identity.pub" and "known_hosts" for SSH; optionally "ca.crt",
	// "tls.crt" and "tls.key" for TLS.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// Provider selects how to authenticate: "generic" (the default) uses
	// SecretRef; "azure" and "aws" use a cloud workload identity; "github"
	// uses the GitHub App credentials in SecretRef.
	// +kubebuilder:validation:Enum=generic;aws;azure;github
	// +optional
	Provider string `json:"provider,omitempty"`

	// ServiceAccountName is the Kubernetes ServiceAccount whose workload
	// identity is used to authenticate. Only for the "azure" and "aws"
	// providers.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Interval between two checks of the repository for new commits, such
	// as "5m". The controller adds a little jitter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +required
	Interval metav1.Duration `json:"interval"`

	// Timeout of one Git operation, such as a clone. Defaults to 60s.
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Reference is the branch, tag, semver range, ref name or commit to
	// check out. When unset, the branch master is followed, as in Flux; a
	// repository without master falls back to the branch its HEAD points at.
	// +optional
	Reference *GitRepositoryRef `json:"ref,omitempty"`

	// Verification, when set, requires the checked-out commit and/or tag to
	// be signed by one of the trusted keys.
	// +optional
	Verification *GitRepositoryVerification `json:"verify,omitempty"`

	// ProxySecretRef names a Secret in the same namespace with the proxy to
	// reach the Git server through: "address", and optionally "username"
	// and "password".
	// +optional
	ProxySecretRef *meta.LocalObjectReference `json:"proxySecretRef,omitempty"`

	// Ignore lists, in .gitignore syntax (one pattern a line), the files to
	// leave out of the artifact, after those that .sourceignore files in
	// the repository list. VCS metadata is always left out. A default set
	// (images, archives, CI configuration, ...) is left out only when
	// neither this field nor any .sourceignore file gives a pattern.
	// +optional
	Ignore *string `json:"ignore,omitempty"`

	// Suspend stops the controller from reconciling this object until it
	// is set back to false; the last artifact stays available.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// RecurseSubmodules also clones the submodules of the repository, with
	// the same credentials.
	// +optional
	RecurseSubmodules bool `json:"recurseSubmodules,omitempty"`

	// Include copies the artifacts of other GitRepositories of the same
	// namespace into this one's artifact.
	// +optional
	Include []GitRepositoryInclude `json:"include,omitempty"`

	// SparseCheckout lists the directories to check out; when set, only
	// these directories end up in the artifact.
	// +optional
	SparseCheckout []string `json:"sparseCheckout,omitempty"`
}

// GitRepositoryInclude copies (part of) another GitRepository's artifact
// into this one's.
type GitRepositoryInclude struct {
	// GitRepositoryRef names the GitRepository, in the same namespace, whose
	// artifact is copied.
	// +required
	GitRepositoryRef meta.LocalObjectReference `json:"repository"`

	// FromPath is the directory of the included artifact to copy; defaults
	// to its root.
	// +optional
	FromPath string `json:"fromPath,omitempty"`

	// ToPath is the directory of this artifact to copy into; defaults to
	// the name of the included GitRepository.
	// +optional
	ToPath string `json:"toPath,omitempty"`
}

// GetFromPath returns the directory to copy from; empty means the root.
func (in *GitRepositoryInclude) GetFromPath() string {
	return in.FromPath
}

// GetToPath returns the directory to copy into, defaulting to the name of
// the included GitRepository.
func (in *GitRepositoryInclude) GetToPath() string {
	if in.ToPath == "" {
		return in.GitRepositoryRef.Name
	}
	return in.ToPath
}

// GitRepositoryRef is the Git reference to check out. When several fields
// are set, the most specific wins: Commit, then Name, then SemVer, then
// Tag, then Branch.
type GitRepositoryRef struct {
	// Branch to follow; when no field is set, master, or the branch the
	// remote's HEAD points at when there is no master.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Tag to check out.
	// +optional
	Tag string `json:"tag,omitempty"`

	// SemVer is a semver range (such as ">=1.0.0 <2.0.0"); the highest tag
	// in the range is checked out.
	// +optional
	SemVer string `json:"semver,omitempty"`

	// Name is a full Git reference to check out, such as
	// "refs/heads/main", "refs/tags/v1.2.0" or "refs/pull/42/head".
	// +optional
	Name string `json:"name,omitempty"`

	// Commit is the SHA of a commit to check out. Together with Branch, the
	// branch is cloned shallowly and must contain the commit.
	// +optional
	Commit string `json:"commit,omitempty"`
}

// GitRepositoryVerification says what must be signed and by whom.
type GitRepositoryVerification struct {
	// Mode selects what is verified: "HEAD" (the checked-out commit; "head"
	// is accepted for older manifests), "Tag" (the annotated tag of
	// spec.ref.tag or spec.ref.semver), or "TagAndHEAD" (both).
	// +kubebuilder:validation:Enum=head;HEAD;Tag;TagAndHEAD
	// +kubebuilder:default:=HEAD
	// +optional
	Mode GitVerificationMode `json:"mode,omitempty"`

	// SecretRef names a Secret in the same namespace whose values are the
	// trusted public keys: armored OpenPGP keys (keys ending in .asc) or
	// SSH public keys (keys ending in .sshpub).
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`
}

// GetMode returns the verification mode, mapping the legacy "head" and an
// empty or unknown value to ModeGitHEAD.
func (in *GitRepositoryVerification) GetMode() GitVerificationMode {
	if in.Mode.Valid() {
		return in.Mode
	}
	return ModeGitHEAD
}

// VerifyHEAD reports whether the checked-out commit must be verified.
func (in *GitRepositoryVerification) VerifyHEAD() bool {
	m := in.GetMode()
	return m == ModeGitHEAD || m == ModeGitTagAndHEAD
}

// VerifyTag reports whether the tag must be verified.
func (in *GitRepositoryVerification) VerifyTag() bool {
	m := in.GetMode()
	return m == ModeGitTag || m == ModeGitTagAndHEAD
}

// GitRepositoryStatus is what the controller last observed and published.
type GitRepositoryStatus struct {
	// ObservedGeneration is the metadata.generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the current state: Ready, Reconciling, Stalled,
	// ArtifactInStorage, ArtifactOutdated, SourceVerified, FetchFailed,
	// IncludeUnavailable, StorageOperationFailed.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Artifact is the last artifact built from the repository; its
	// revision reads "<branch-or-tag>@sha1:<commit>".
	// +optional
	Artifact *meta.Artifact `json:"artifact,omitempty"`

	// IncludedArtifacts are the artifacts of spec.include that went into
	// Artifact, in the same order.
	// +optional
	IncludedArtifacts []*meta.Artifact `json:"includedArtifacts,omitempty"`

	// ObservedIgnore is the spec.ignore that Artifact was built with.
	// +optional
	ObservedIgnore *string `json:"observedIgnore,omitempty"`

	// ObservedRecurseSubmodules is the spec.recurseSubmodules that Artifact
	// was built with.
	// +optional
	ObservedRecurseSubmodules bool `json:"observedRecurseSubmodules,omitempty"`

	// ObservedInclude is the spec.include that Artifact was built with.
	// +optional
	ObservedInclude []GitRepositoryInclude `json:"observedInclude,omitempty"`

	// ObservedSparseCheckout is the spec.sparseCheckout that Artifact was
	// built with.
	// +optional
	ObservedSparseCheckout []string `json:"observedSparseCheckout,omitempty"`

	// SourceVerificationMode is the verification mode that the last
	// successful verification used.
	// +optional
	SourceVerificationMode *GitVerificationMode `json:"sourceVerificationMode,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gitrepo,categories=all;fluxcd;fluxcd-sources
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description=""
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status",description=""
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",description=""

// GitRepository fetches a Git repository at a branch, tag, semver range or
// commit on an interval, and publishes the checked-out tree as an artifact.
type GitRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the GitRepository.
	// +optional
	Spec GitRepositorySpec `json:"spec,omitempty"`

	// Status is the observed state of the GitRepository.
	// +kubebuilder:default={"observedGeneration":-1}
	// +optional
	Status GitRepositoryStatus `json:"status,omitempty"`
}

// GitRepositoryList is a list of GitRepositories.
// +kubebuilder:object:root=true
type GitRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the GitRepositories.
	Items []GitRepository `json:"items"`
}

var _ meta.Reconcilable = &GitRepository{}

// GetConditions returns status.conditions.
func (in *GitRepository) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces status.conditions.
func (in *GitRepository) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}

// GetRequeueAfter returns spec.interval.
func (in *GitRepository) GetRequeueAfter() time.Duration {
	return in.Spec.Interval.Duration
}

// IsSuspended reports spec.suspend.
func (in *GitRepository) IsSuspended() bool {
	return in.Spec.Suspend
}

// GetTimeout returns spec.timeout, or 60s when unset.
func (in *GitRepository) GetTimeout() time.Duration {
	return timeoutOrDefault(in.Spec.Timeout)
}

// GetArtifact returns status.artifact, nil when none was published yet.
func (in *GitRepository) GetArtifact() *meta.Artifact {
	return in.Status.Artifact
}

// GetLastHandledReconcileRequest returns status.lastHandledReconcileAt.
func (in *GitRepository) GetLastHandledReconcileRequest() string {
	return in.Status.GetLastHandledReconcileRequest()
}

// SetLastHandledReconcileRequest records token in
// status.lastHandledReconcileAt.
func (in *GitRepository) SetLastHandledReconcileRequest(token string) {
	in.Status.SetLastHandledReconcileRequest(token)
}

func init() {
	register(&GitRepository{}, &GitRepositoryList{})
}
