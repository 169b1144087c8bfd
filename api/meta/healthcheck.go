package meta

// CustomHealthCheck tells how to read the health of objects of one kind,
// typically a custom resource whose status kstatus does not understand, with
// CEL expressions over the object (`self`). The expressions are tried in
// the order failed, current, inProgress; the first that is true decides.
type CustomHealthCheck struct {
	// APIVersion of the objects the check applies to, such as
	// "cert-manager.io/v1".
	// +required
	APIVersion string `json:"apiVersion"`

	// Kind of the objects the check applies to, such as "Certificate".
	// +optional
	Kind string `json:"kind,omitempty"`

	// Current is a CEL expression that is true once the object has reached
	// its desired state, such as
	// "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')".
	// +required
	Current string `json:"current"`

	// InProgress is a CEL expression that is true while the object is still
	// working towards its desired state.
	// +optional
	InProgress string `json:"inProgress,omitempty"`

	// Failed is a CEL expression that is true once the object has failed to
	// reach its desired state.
	// +optional
	Failed string `json:"failed,omitempty"`
}
