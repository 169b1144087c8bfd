// Package crdcompat holds gotk's CustomResourceDefinitions against the ones
// Flux publishes: every field path that Flux's schema has must exist in
// gotk's with the same type, and every enum value Flux accepts must be
// accepted too. gotk may accept more, never less.
package crdcompat

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Field is one node of a structural schema, flattened.
type Field struct {
	Type   string
	Format string
	Enum   []string
}

// Load reads one CRD from a YAML file.
func Load(path string) (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return crd, nil
}

// Fields flattens the schema of the named version into field paths such as
// ".spec.ref.branch", ".spec.include[].toPath" and ".spec.values{}". The
// root object itself is not a field and is left out.
func Fields(crd *apiextensionsv1.CustomResourceDefinition, version string) (map[string]Field, error) {
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("%s %s has no schema", crd.Name, version)
		}
		out := map[string]Field{}
		walk("", v.Schema.OpenAPIV3Schema, out)
		delete(out, ".")
		return out, nil
	}
	return nil, fmt.Errorf("%s has no version %s", crd.Name, version)
}

func walk(path string, s *apiextensionsv1.JSONSchemaProps, out map[string]Field) {
	f := Field{Type: s.Type, Format: s.Format}
	if s.XIntOrString {
		f.Type = "int-or-string"
	}
	if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields && f.Type == "" {
		f.Type = "preserve-unknown"
	}
	for _, e := range s.Enum {
		f.Enum = append(f.Enum, strings.Trim(string(e.Raw), `"`))
	}
	if path == "" {
		path = "."
	}
	out[path] = f
	prefix := strings.TrimSuffix(path, ".")
	for name, p := range s.Properties {
		walk(prefix+"."+name, &p, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walk(prefix+"[]", s.Items.Schema, out)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walk(prefix+"{}", s.AdditionalProperties.Schema, out)
	}
}

// Compare lists, sorted, every way in which ours accepts less than theirs:
// a missing field path, a different type or format, a missing enum value.
// A field that theirs constrains to an enum and ours leaves free is fine.
func Compare(theirs, ours map[string]Field) []string {
	var problems []string
	for path, want := range theirs {
		got, ok := ours[path]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: missing (want type %q)", path, want.Type))
			continue
		}
		if got.Type != want.Type {
			problems = append(problems, fmt.Sprintf("%s: type %q, want %q", path, got.Type, want.Type))
		}
		if got.Format != want.Format && want.Format != "" {
			problems = append(problems, fmt.Sprintf("%s: format %q, want %q", path, got.Format, want.Format))
		}
		if len(got.Enum) == 0 {
			continue
		}
		have := map[string]bool{}
		for _, e := range got.Enum {
			have[e] = true
		}
		for _, e := range want.Enum {
			if !have[e] {
				problems = append(problems, fmt.Sprintf("%s: enum lacks %s", path, e))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// StorageVersion returns the name of the version marked as storage.
func StorageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// Files lists the *.yaml files of dir by base name.
func Files(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(matches))
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	sort.Strings(names)
	return names, nil
}
