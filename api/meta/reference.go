package meta

// LocalObjectReference points at an object in the namespace of the object
// that holds the reference.
type LocalObjectReference struct {
	// Name of the referenced object.
	// +required
	Name string `json:"name"`
}

// SecretKeyReference points at one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +required
	Name string `json:"name"`

	// Key in the Secret's data. When empty, the consumer picks its
	// documented default key.
	// +optional
	Key string `json:"key,omitempty"`
}

// NamespacedObjectReference points at an object by name, in the given
// namespace or, when that is empty, in the namespace of the referrer.
type NamespacedObjectReference struct {
	// Name of the referenced object.
	// +required
	Name string `json:"name"`

	// Namespace of the referenced object; defaults to the referrer's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// NamespacedObjectKindReference points at an object of any kind, in the
// given namespace or the referrer's.
type NamespacedObjectKindReference struct {
	// APIVersion of the referenced object, such as "apps/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the referenced object.
	// +required
	Kind string `json:"kind"`

	// Name of the referenced object.
	// +required
	Name string `json:"name"`

	// Namespace of the referenced object; defaults to the referrer's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// KubeConfigReference names where a kubeconfig for a remote cluster is
// found.
type KubeConfigReference struct {
	// SecretRef names a Secret in the referrer's namespace that holds a
	// kubeconfig, under Key or, when Key is empty, under "value" or
	// "value.yaml".
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`

	// ConfigMapRef names a ConfigMap in the referrer's namespace whose
	// data configures access to the remote cluster through a cloud provider.
	// +optional
	ConfigMapRef *LocalObjectReference `json:"configMapRef,omitempty"`
}

// DependencyReference names an object that must be ready before the
// referrer reconciles.
type DependencyReference struct {
	// Kind of the dependency: Kustomization or HelmRelease. Defaults to
	// the referrer's own kind, so that a Kustomization may wait for a
	// HelmRelease and a HelmRelease for a Kustomization. A gotk extension:
	// Flux depends on objects of the same kind only.
	// +kubebuilder:validation:Enum=Kustomization;HelmRelease
	// +optional
	Kind string `json:"kind,omitempty"`

	// Name of the dependency.
	// +required
	Name string `json:"name"`

	// Namespace of the dependency; defaults to the referrer's.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// ReadyExpr is a CEL expression over `self` (the referrer) and `dep`
	// (the dependency) that decides whether the dependency is ready. When
	// empty, the dependency's Ready condition decides.
	// +optional
	ReadyExpr string `json:"readyExpr,omitempty"`
}
