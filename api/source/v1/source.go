package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gotk-dev/gotk/api/meta"
)

// Kind names of this group, as they appear in apiVersion/kind pairs and in
// source references such as a Kustomization's spec.sourceRef.kind.
const (
	GitRepositoryKind  = "GitRepository"
	OCIRepositoryKind  = "OCIRepository"
	HelmRepositoryKind = "HelmRepository"
	HelmChartKind      = "HelmChart"
	BucketKind         = "Bucket"
)

// SourceIndexKey is the field index under which consumers (Kustomization,
// HelmRelease) are indexed by the source they reference, so a new artifact
// can wake exactly the objects that use it.
const SourceIndexKey = ".metadata.source"

// Source is implemented by every kind of this group: an object that is
// reconciled on an interval and publishes an artifact. It needs nothing but
// apimachinery, so a Source is also a controller-runtime client.Object.
//
// +kubebuilder:object:generate=false
type Source interface {
	metav1.Object
	runtime.Object
	meta.Reconcilable

	// GetArtifact returns the artifact last published in status, or nil
	// when there is none yet.
	GetArtifact() *meta.Artifact
}

// ArtifactSource is any object of this group that publishes an artifact
// a Kustomization or a HelmRelease can consume: every Source, and the
// ExternalArtifact, which another controller writes and which has no
// reconcile of its own.
//
// +kubebuilder:object:generate=false
type ArtifactSource interface {
	metav1.Object
	runtime.Object

	// GetArtifact returns the artifact last published in status, or nil
	// when there is none yet.
	GetArtifact() *meta.Artifact
}

var (
	_ ArtifactSource = &ExternalArtifact{}
	_ ArtifactSource = Source(nil)
	_ Source         = &GitRepository{}
	_ Source         = &OCIRepository{}
	_ Source         = &HelmRepository{}
	_ Source         = &HelmChart{}
	_ Source         = &Bucket{}
)

// defaultTimeout is the timeout of remote operations when spec.timeout is
// unset.
const defaultTimeout = 60 * time.Second

// timeoutOrDefault returns d, or defaultTimeout when d is unset.
func timeoutOrDefault(d *metav1.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return defaultTimeout
	}
	return d.Duration
}
