package v1

// Annotations and labels on the objects that a Kustomization applies. The
// annotations are set in Git by users to change how one object is handled;
// the labels are set by the controller to record which Kustomization owns
// the object.
const (
	// SSAAnnotation chooses how server-side apply treats the object: one
	// of SSAOverride (the default), SSAMerge, SSAIfNotPresent, SSAIgnore.
	SSAAnnotation = "kustomize.toolkit.fluxcd.io/ssa"

	// ForceAnnotation set to ForceEnabled makes the controller delete and
	// recreate the object when an apply fails on an immutable field, as if
	// spec.force were true for this object alone.
	ForceAnnotation = "kustomize.toolkit.fluxcd.io/force"

	// ReconcileAnnotation set to DisabledValue on an object in the cluster
	// makes the controller stop applying changes to it and never prune it.
	ReconcileAnnotation = "kustomize.toolkit.fluxcd.io/reconcile"

	// PruneAnnotation set to DisabledValue keeps the object in the cluster
	// when it leaves the desired state or the Kustomization is deleted.
	PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"

	// SubstituteAnnotation set to DisabledValue exempts the object from
	// post-build variable substitution.
	SubstituteAnnotation = "kustomize.toolkit.fluxcd.io/substitute"

	// NameLabel holds the name of the Kustomization that applied the object.
	NameLabel = "kustomize.toolkit.fluxcd.io/name"

	// NamespaceLabel holds the namespace of the Kustomization that applied
	// the object.
	NamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"

	// FieldManager is the server-side apply field manager that owns the
	// fields the controller applies.
	FieldManager = "kustomize-controller"
)

// Values of SSAAnnotation.
const (
	// SSAOverride applies the object and takes over the fields that other
	// field managers changed, undoing drift. This is the default.
	SSAOverride = "Override"

	// SSAMerge applies the object but keeps the fields that other field
	// managers own, so in-cluster additions survive.
	SSAMerge = "Merge"

	// SSAIfNotPresent creates the object when it is missing and never
	// updates it afterwards.
	SSAIfNotPresent = "IfNotPresent"

	// SSAIgnore leaves the object as it is in the cluster: the controller
	// does not apply it.
	SSAIgnore = "Ignore"
)

// Values of the per-object annotations.
const (
	// ForceEnabled is the value of ForceAnnotation that turns it on.
	ForceEnabled = "Enabled"

	// DisabledValue is the value of ReconcileAnnotation, PruneAnnotation
	// and SubstituteAnnotation that turns the behaviour off.
	DisabledValue = "disabled"

	// EnabledValue is the lower-case spelling that Flux also accepts for
	// ForceAnnotation.
	EnabledValue = "enabled"
)
