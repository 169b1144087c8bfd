package notify

import (
	"encoding/json"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// CommitStatusExpr is a compiled spec.commitStatusExpr: a CEL expression
// over `event`, `provider` and `alert` (each the object as JSON) that
// returns the commit status name, such as
// "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + provider.metadata.uid.split('-').first().value()".
type CommitStatusExpr struct {
	prg cel.Program
}

// CompileCommitStatusExpr compiles expr and checks that it returns a string.
func CompileCommitStatusExpr(expr string) (*CommitStatusExpr, error) {
	env, err := cel.NewEnv(
		cel.Variable("event", cel.DynType),
		cel.Variable("provider", cel.DynType),
		cel.Variable("alert", cel.DynType),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("spec.commitStatusExpr: %w", iss.Err())
	}
	if t := ast.OutputType(); t != cel.StringType && t != cel.DynType {
		return nil, fmt.Errorf("spec.commitStatusExpr returns %s, not a string", t)
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, fmt.Errorf("spec.commitStatusExpr: %w", err)
	}
	return &CommitStatusExpr{prg: prg}, nil
}

// asJSONMap turns v into the map its JSON decodes to, as CEL sees objects.
func asJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// Eval returns the commit status name for ev; provider and alert are the
// objects whose fields the expression may read.
func (c *CommitStatusExpr) Eval(ev Event, provider, alert any) (string, error) {
	vars := map[string]any{}
	for name, v := range map[string]any{"event": ev, "provider": provider, "alert": alert} {
		m, err := asJSONMap(v)
		if err != nil {
			return "", err
		}
		vars[name] = m
	}
	out, _, err := c.prg.Eval(vars)
	if err != nil {
		return "", fmt.Errorf("spec.commitStatusExpr: %w", err)
	}
	s, ok := out.Value().(string)
	if !ok {
		return "", fmt.Errorf("spec.commitStatusExpr returned %v, not a string", out.Value())
	}
	if s == "" {
		return "", fmt.Errorf("spec.commitStatusExpr returned an empty string")
	}
	return s, nil
}
