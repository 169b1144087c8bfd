package ssa

import "strings"

// Stage is a step of a staged apply. Objects of an earlier stage are
// written (and, for CRDs and Namespaces, ready) before any object of a
// later stage is validated or written, because later objects depend on
// them: a custom resource needs its CRD, a namespaced object its Namespace.
type Stage int

const (
	// StageClusterDefinitions holds the cluster-wide definitions that other
	// objects depend on: CustomResourceDefinitions, Namespaces, ClusterRoles
	// and ClusterRoleBindings.
	StageClusterDefinitions Stage = iota
	// StageClasses holds the cluster's classes (kinds named "*Class":
	// StorageClass, IngressClass, PriorityClass, RuntimeClass,
	// GatewayClass...), which workloads name.
	StageClasses
	// StageResources holds every other object.
	StageResources
)

// stages lists the stages in apply order.
var stages = []Stage{StageClusterDefinitions, StageClasses, StageResources}

// String names the stage in messages.
func (s Stage) String() string {
	switch s {
	case StageClusterDefinitions:
		return "cluster definitions"
	case StageClasses:
		return "classes"
	default:
		return "resources"
	}
}

const (
	crdGroup = "apiextensions.k8s.io"
	crdKind  = "CustomResourceDefinition"
	rbacGrp  = "rbac.authorization.k8s.io"
)

// StageOf returns the stage an object of the given group and kind is
// applied in.
func StageOf(group, kind string) Stage {
	switch {
	case group == crdGroup && kind == crdKind,
		group == "" && kind == "Namespace",
		group == rbacGrp && (kind == "ClusterRole" || kind == "ClusterRoleBinding"):
		return StageClusterDefinitions
	case strings.HasSuffix(kind, "Class"):
		return StageClasses
	default:
		return StageResources
	}
}

func isCRD(r ObjectRef) bool       { return r.Group == crdGroup && r.Kind == crdKind }
func isNamespace(r ObjectRef) bool { return r.Group == "" && r.Kind == "Namespace" }
