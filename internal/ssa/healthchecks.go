package ssa

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gotk-dev/gotk/api/meta"
)

// HealthChecks are compiled custom health checks (healthCheckExprs), by
// apiVersion and kind. The zero value, and nil, check every object with
// kstatus alone.
type HealthChecks struct {
	checks map[gvKey]*celCheck
}

// CompileHealthChecks compiles the CEL expressions of exprs; an error
// names the apiVersion, kind and field of the expression that does not
// compile.
func CompileHealthChecks(exprs []meta.CustomHealthCheck) (*HealthChecks, error) {
	checks, err := compileHealthChecks(exprs)
	if err != nil {
		return nil, err
	}
	return &HealthChecks{checks: checks}, nil
}

// Status computes the health of u: with the custom check of its kind when
// there is one, with kstatus otherwise.
func (h *HealthChecks) Status(u *unstructured.Unstructured) (status.Status, string) {
	var checks map[gvKey]*celCheck
	if h != nil {
		checks = h.checks
	}
	return healthOf(u, checks)
}

// ResourceVersion returns the resourceVersion that ref had right after it
// was last applied (or found unchanged), or "" when the cache does not
// know it. A health watch uses it to tell a copy of the object older than
// the apply, whose status says nothing about what was applied.
func (c *Cache) ResourceVersion(ref ObjectRef) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[cacheKey{ref.ID()}].resourceVersion
}
