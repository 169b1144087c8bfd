package meta

import "strings"

// ResourceInventory lists the objects that a controller has applied and
// owns, so that it can prune those that leave the desired state.
type ResourceInventory struct {
	// Entries are the applied objects.
	// +required
	Entries []ResourceRef `json:"entries"`
}

// ResourceRef identifies one applied object.
type ResourceRef struct {
	// ID is "<namespace>_<name>_<group>_<kind>", with an empty namespace
	// for cluster-scoped objects and an empty group for the core group.
	// Colons in names (RBAC objects) are written as "__".
	// +required
	ID string `json:"id"`

	// Version is the API version of the object's kind, such as "v1".
	// +required
	Version string `json:"v"`
}

const (
	idSeparator = "_"
	idColon     = "__"
)

// ResourceID returns the inventory ID of the object with the given
// namespace, name, group and kind, in the format that Flux (and
// kubernetes-sigs/cli-utils) write.
func ResourceID(namespace, name, group, kind string) string {
	name = strings.ReplaceAll(name, ":", idColon)
	return namespace + idSeparator + name + idSeparator + group + idSeparator + kind
}

// ParseResourceID splits an inventory ID into namespace, name, group and
// kind. It reports false when id is not in the format ResourceID writes.
func ParseResourceID(id string) (namespace, name, group, kind string, ok bool) {
	namespace, rest, found := strings.Cut(id, idSeparator)
	if !found {
		return "", "", "", "", false
	}
	i := strings.LastIndex(rest, idSeparator)
	if i < 0 {
		return "", "", "", "", false
	}
	rest, kind = rest[:i], rest[i+1:]
	i = strings.LastIndex(rest, idSeparator)
	if i < 0 {
		return "", "", "", "", false
	}
	name, group = strings.ReplaceAll(rest[:i], idColon, ":"), rest[i+1:]
	if strings.Contains(name, idSeparator) {
		return "", "", "", "", false
	}
	return namespace, name, group, kind, true
}
