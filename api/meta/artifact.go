package meta

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Artifact is a versioned, digest-checked tarball that a source controller
// stores and serves over HTTP for its consumers.
type Artifact struct {
	// Path of the artifact relative to the storage root, in the form
	// <kind>/<namespace>/<name>/<file>.
	// +required
	Path string `json:"path"`

	// URL the artifact can be downloaded from.
	// +required
	URL string `json:"url"`

	// Revision of the source the artifact was made from, such as
	// "main@sha1:<commit>" or "sha256:<digest>".
	// +required
	Revision string `json:"revision"`

	// Digest of the artifact file, as "<algorithm>:<hex>".
	// +required
	// +kubebuilder:validation:Pattern="^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"
	Digest string `json:"digest"`

	// LastUpdateTime is when the artifact was last written.
	// +required
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`

	// Size of the artifact file in bytes.
	// +optional
	Size *int64 `json:"size,omitempty"`

	// Metadata carries annotations of the source, such as OCI manifest
	// annotations.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// OriginRevisionAnnotation is the artifact metadata key that carries the
// revision of the origin of an artifact, such as the Git commit an OCI
// artifact was pushed from.
const OriginRevisionAnnotation = "org.opencontainers.image.revision"

// OriginRevision returns the revision of the origin of the artifact, or
// "" when it records none.
func (a *Artifact) OriginRevision() string {
	if a == nil {
		return ""
	}
	return a.Metadata[OriginRevisionAnnotation]
}

// HasRevision reports whether the artifact was made from revision.
func (a *Artifact) HasRevision(revision string) bool {
	return a != nil && a.Revision == revision
}

// HasDigest reports whether the artifact file has the given digest.
func (a *Artifact) HasDigest(digest string) bool {
	return a != nil && a.Digest == digest
}
