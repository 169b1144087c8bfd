package ssa

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gotk-dev/gotk/api/meta"
)

// celCheck is a compiled custom health check for one apiVersion and kind.
type celCheck struct {
	inProgress, failed, current cel.Program
	src                         meta.CustomHealthCheck
}

type gvKey struct{ apiVersion, kind string }

// compileHealthChecks compiles the CEL expressions of the checks. The
// expressions see the object as `self` and also its top-level fields by
// name (`status`, `spec`, `metadata`...), as Flux's examples write them;
// a field the object lacks is an evaluation error, read as not true.
func compileHealthChecks(checks []meta.CustomHealthCheck) (map[gvKey]*celCheck, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	env, err := cel.NewEnv(cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true), cel.DefaultUTCTimeZone(true),
		ext.Strings(), ext.Lists(), ext.Sets(), ext.Encoders())
	if err != nil {
		return nil, err
	}
	compile := func(c meta.CustomHealthCheck, field, expr string) (cel.Program, error) {
		if expr == "" {
			return nil, nil
		}
		ast, iss := env.Parse(expr)
		if iss.Err() != nil {
			return nil, fmt.Errorf("healthCheckExprs %s %s %s: %w", c.APIVersion, c.Kind, field, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			return nil, fmt.Errorf("healthCheckExprs %s %s %s: %w", c.APIVersion, c.Kind, field, err)
		}
		return prg, nil
	}
	out := map[gvKey]*celCheck{}
	for _, c := range checks {
		if c.Current == "" {
			return nil, fmt.Errorf("healthCheckExprs %s %s: current is required", c.APIVersion, c.Kind)
		}
		cc := &celCheck{src: c}
		if cc.inProgress, err = compile(c, "inProgress", c.InProgress); err != nil {
			return nil, err
		}
		if cc.failed, err = compile(c, "failed", c.Failed); err != nil {
			return nil, err
		}
		if cc.current, err = compile(c, "current", c.Current); err != nil {
			return nil, err
		}
		out[gvKey{c.APIVersion, c.Kind}] = cc
	}
	return out, nil
}

// evaluate reads the health of u: the expressions are tried in the order
// inProgress, failed, current, and the first that is true decides; when
// none is, the object is still in progress.
func (c *celCheck) evaluate(u *unstructured.Unstructured) (status.Status, string) {
	vars := map[string]any{"self": u.Object}
	for k, v := range u.Object {
		vars[k] = v
	}
	var lastErr error
	for _, step := range []struct {
		prg    cel.Program
		result status.Status
		expr   string
	}{
		{c.inProgress, status.InProgressStatus, c.src.InProgress},
		{c.failed, status.FailedStatus, c.src.Failed},
		{c.current, status.CurrentStatus, c.src.Current},
	} {
		if step.prg == nil {
			continue
		}
		out, _, err := step.prg.Eval(vars)
		if err != nil {
			lastErr = err
			continue
		}
		if b, ok := out.Value().(bool); ok && b {
			return step.result, fmt.Sprintf("health check expression %q is true", step.expr)
		}
	}
	if lastErr != nil {
		return status.InProgressStatus, fmt.Sprintf("health check expressions are not true yet: %v", lastErr)
	}
	return status.InProgressStatus, "health check expressions are not true yet"
}

// healthOf computes the kstatus health of u, with the custom check for its
// kind when there is one.
func healthOf(u *unstructured.Unstructured, checks map[gvKey]*celCheck) (status.Status, string) {
	if c, ok := checks[gvKey{u.GetAPIVersion(), u.GetKind()}]; ok {
		return c.evaluate(u)
	}
	if c, ok := checks[gvKey{u.GetAPIVersion(), ""}]; ok {
		return c.evaluate(u)
	}
	res, err := status.Compute(u)
	if err != nil {
		return status.UnknownStatus, err.Error()
	}
	return res.Status, res.Message
}
