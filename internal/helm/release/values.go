package release

import (
	"crypto/sha1" //nolint:gosec // Flux's lastAttemptedValuesChecksum is SHA-1; it identifies, it does not protect.
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// ConfigDigest returns "sha256:<hex>" of the values: the digest that
// status.history and lastAttemptedConfigDigest record, and that tells
// whether the values of a release are the desired ones.
func ConfigDigest(values map[string]any) string {
	sum := sha256.Sum256(canonical(values))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValuesChecksum returns the SHA-1 hex of the values, for the deprecated
// status.lastAttemptedValuesChecksum.
func ValuesChecksum(values map[string]any) string {
	sum := sha1.Sum(canonical(values)) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// canonical encodes values as JSON with sorted keys; no values and empty
// values are the same.
func canonical(values map[string]any) []byte {
	if len(values) == 0 {
		return []byte("{}")
	}
	data, err := json.Marshal(values)
	if err != nil {
		return []byte(fmt.Sprint(values))
	}
	return data
}

// MergeValues merges b over a, recursing into maps that both have under
// a key; b wins elsewhere. a is changed and returned.
func MergeValues(a, b map[string]any) map[string]any {
	if a == nil {
		a = map[string]any{}
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := a[k].(map[string]any); ok {
				a[k] = MergeValues(am, bm)
				continue
			}
		}
		a[k] = v
	}
	return a
}

// ParseValues reads a YAML values document; source names it in errors.
// An empty document is no values.
func ParseValues(data []byte, source string) (map[string]any, error) {
	if strings.TrimSpace(string(data)) == "" {
		return map[string]any{}, nil
	}
	var out map[string]any
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s is not a YAML map of values: %w", source, err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// SetPath sets the string value at targetPath ("a.b[0].c", Helm's --set
// syntax) in values, as valuesFrom[].targetPath does: the value is taken
// as a string, never parsed.
func SetPath(values map[string]any, targetPath, value string) error {
	// Escape what --set-string would read as separators in the value.
	escaped := strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(value)
	if err := strvals.ParseIntoString(targetPath+"="+escaped, values); err != nil {
		return fmt.Errorf("targetPath %q: %w", targetPath, err)
	}
	return nil
}
