package meta

// Shapes borrowed from kustomize that more than one kind uses: the
// Kustomization's patches and images, the HelmRelease post-renderer, and the
// rules that leave some fields out of drift detection.

// Selector picks Kubernetes objects by their group, version, kind, name,
// namespace, labels and annotations. Every field that is set must match;
// an empty Selector matches every object.
type Selector struct {
	// Group of the objects to match, such as "apps"; the core group is "".
	// +optional
	Group string `json:"group,omitempty"`

	// Version of the objects to match, such as "v1".
	// +optional
	Version string `json:"version,omitempty"`

	// Kind of the objects to match, such as "Deployment".
	// +optional
	Kind string `json:"kind,omitempty"`

	// Namespace of the objects to match.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Name of the objects to match; kustomize reads it as a regular
	// expression.
	// +optional
	Name string `json:"name,omitempty"`

	// AnnotationSelector matches the objects' annotations, written as a
	// label selector such as "app.example.com/tier=web,!legacy".
	// +optional
	AnnotationSelector string `json:"annotationSelector,omitempty"`

	// LabelSelector matches the objects' labels, such as
	// "app=podinfo,env in (staging,production)".
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
}

// Patch is a strategic merge patch or a JSON 6902 patch, written inline,
// and the objects it applies to.
type Patch struct {
	// Patch is the patch document as YAML: either a partial object
	// (strategic merge) or a list of JSON 6902 operations.
	// +required
	Patch string `json:"patch"`

	// Target selects the objects to patch. When empty, a strategic merge
	// patch applies to the object it names.
	// +optional
	Target *Selector `json:"target,omitempty"`
}

// Image rewrites the name, tag or digest of a container image wherever
// kustomize finds it in the manifests.
type Image struct {
	// Name of the image to rewrite, without tag or digest, such as
	// "ghcr.io/stefanprodan/podinfo".
	// +required
	Name string `json:"name"`

	// NewName replaces the image name, such as a mirror's address.
	// +optional
	NewName string `json:"newName,omitempty"`

	// NewTag replaces the image tag.
	// +optional
	NewTag string `json:"newTag,omitempty"`

	// Digest pins the image to a digest such as "sha256:<hex>"; when set,
	// NewTag is ignored.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// IgnoreRule leaves some fields of some objects out of drift detection and
// of what the controller corrects.
type IgnoreRule struct {
	// Paths are JSON Pointers (RFC 6901), such as "/spec/replicas", of the
	// fields to ignore.
	// +required
	Paths []string `json:"paths"`

	// Target selects the objects the rule applies to; when empty, it
	// applies to every object that the controller manages.
	// +optional
	Target *Selector `json:"target,omitempty"`
}

// CommonMetadata holds labels and annotations that are set on every object
// that the controller applies, replacing values under the same keys.
type CommonMetadata struct {
	// Annotations to set on every applied object.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels to set on every applied object.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}
