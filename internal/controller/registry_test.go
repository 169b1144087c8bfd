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

// A Deployment runs the binary of its controllers when they share one, and
// gotk-controller otherwise.
func TestBinaryOf(t *testing.T) {
	for _, tc := range []struct {
		controllers []string
		want        string
	}{
		{[]string{"helm"}, "gotk-helm-controller"},
		{[]string{"source", "artifactgenerator"}, "gotk-source-controller"},
		{[]string{"source", "kustomize"}, AllInOne},
		{[]string{"image"}, AllInOne},
		{nil, AllInOne},
	} {
		if got := BinaryOf(tc.controllers); got != tc.want {
			t.Errorf("BinaryOf(%v) = %s, want %s", tc.controllers, got, tc.want)
		}
	}
}
