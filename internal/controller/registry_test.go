package controller

import (
	"slices"
	"testing"
)

// "all" (and the default, empty) leaves the optional ArtifactGenerator
// controller out, as Flux leaves source-watcher out of its default
// components; naming it, alone or after all, runs it.
func TestParseLeavesOptionalControllersOutOfAll(t *testing.T) {
	for value, want := range map[string][]string{
		"":                                   {"source", "kustomize", "helm", "notification", "image"},
		"all":                                {"source", "kustomize", "helm", "notification", "image"},
		"all,artifactgenerator":              {"source", "artifactgenerator", "kustomize", "helm", "notification", "image"},
		"kustomize,artifactgenerator,source": {"source", "artifactgenerator", "kustomize"},
		"artifactgenerator":                  {"artifactgenerator"},
	} {
		got, err := Parse(value)
		if err != nil {
			t.Errorf("Parse(%q): %v", value, err)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("Parse(%q) = %v, want %v", value, got, want)
		}
	}
	if _, err := Parse("source,watcher"); err == nil {
		t.Error("Parse accepted an unknown controller")
	}
}
