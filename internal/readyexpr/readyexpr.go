// Package readyexpr evaluates the readyExpr of a dependsOn entry, which
// Kustomizations and HelmReleases share.
package readyexpr

import (
	"fmt"

	"github.com/google/cel-go/cel"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

// Eval evaluates a dependsOn readyExpr, a CEL expression over
// self (the dependent) and dep (the dependency), whatever their kinds: a
// Kustomization or a HelmRelease. A field that does not exist yet makes
// it false, not an error.
func Eval(self, dep kruntime.Object, expr string) (bool, error) {
	env, err := cel.NewEnv(cel.Variable("self", cel.DynType), cel.Variable("dep", cel.DynType))
	if err != nil {
		return false, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return false, iss.Err()
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return false, fmt.Errorf("%q must be a boolean expression", expr)
	}
	prg, err := env.Program(ast)
	if err != nil {
		return false, err
	}
	selfMap, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(self)
	if err != nil {
		return false, err
	}
	depMap, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(dep)
	if err != nil {
		return false, err
	}
	out, _, err := prg.Eval(map[string]any{"self": selfMap, "dep": depMap})
	if err != nil {
		// A field that does not exist yet means not ready, not broken.
		return false, nil
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%q evaluated to %v, not a boolean", expr, out.Value())
	}
	return b, nil
}
