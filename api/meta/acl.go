package meta

// AccessFrom is an access control list naming the namespaces whose objects
// may reference the object that carries it from across a namespace boundary.
type AccessFrom struct {
	// NamespaceSelectors select the namespaces that are granted access; a
	// namespace that matches any one of them is granted access.
	// +required
	NamespaceSelectors []NamespaceSelector `json:"namespaceSelectors"`
}

// NamespaceSelector selects namespaces by their labels.
type NamespaceSelector struct {
	// MatchLabels selects the namespaces that carry all of these labels.
	// An empty map selects every namespace.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}
