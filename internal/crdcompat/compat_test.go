package crdcompat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fluxDir is where shared/ lays Flux's CRDs beside a checkout of gotk.
func fluxDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("GOTK_FLUX_CRDS"); d != "" {
		return d
	}
	d, err := filepath.Abs("../../../shared/compat/flux-crds")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("Flux CRDs not found at %s (set GOTK_FLUX_CRDS): %v", d, err)
	}
	return d
}

const oursDir = "../../config/crd/bases"

// TestCompatibleWithFlux holds each of gotk's CRDs against Flux's: every
// field path, type and enum value that Flux accepts, gotk accepts.
func TestCompatibleWithFlux(t *testing.T) {
	theirsDir := fluxDir(t)
	names, err := Files(theirsDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 13 {
		t.Fatalf("want the 13 Flux CRDs in %s, found %d", theirsDir, len(names))
	}
	total, matched := 0, 0
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			theirs, err := Load(filepath.Join(theirsDir, name))
			if err != nil {
				t.Fatal(err)
			}
			version := StorageVersion(theirs)
			theirFields, err := Fields(theirs, version)
			if err != nil {
				t.Fatal(err)
			}
			total += len(theirFields)
			ours, err := Load(filepath.Join(oursDir, name))
			if err != nil {
				t.Fatalf("gotk has no CRD for %s: %v", theirs.Name, err)
			}
			if ours.Spec.Group != theirs.Spec.Group || ours.Spec.Names.Kind != theirs.Spec.Names.Kind {
				t.Errorf("group/kind %s/%s, want %s/%s", ours.Spec.Group, ours.Spec.Names.Kind, theirs.Spec.Group, theirs.Spec.Names.Kind)
			}
			if got := StorageVersion(ours); got != version {
				t.Errorf("storage version %q, want %q", got, version)
			}
			if diff := cmp.Diff(theirs.Spec.Names.ShortNames, ours.Spec.Names.ShortNames); diff != "" {
				t.Errorf("short names (-flux +gotk):\n%s", diff)
			}
			ourFields, err := Fields(ours, version)
			if err != nil {
				t.Fatal(err)
			}
			problems := Compare(theirFields, ourFields)
			matched += len(theirFields) - countPaths(problems)
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
	t.Logf("%d of %d Flux field paths match", matched, total)
}

func countPaths(problems []string) int {
	seen := map[string]bool{}
	for _, p := range problems {
		seen[strings.SplitN(p, ":", 2)[0]] = true
	}
	return len(seen)
}

func TestCompareReportsWhatIsLess(t *testing.T) {
	theirs := map[string]Field{
		".spec":          {Type: "object"},
		".spec.mode":     {Type: "string", Enum: []string{"HEAD", "Tag"}},
		".spec.interval": {Type: "string"},
		".spec.size":     {Type: "integer", Format: "int64"},
	}
	ours := map[string]Field{
		".spec":      {Type: "object"},
		".spec.mode": {Type: "string", Enum: []string{"HEAD", "Other"}},
		".spec.size": {Type: "string"},
		".spec.more": {Type: "string"},
	}
	want := []string{
		`.spec.interval: missing (want type "string")`,
		`.spec.mode: enum lacks Tag`,
		`.spec.size: format "", want "int64"`,
		`.spec.size: type "string", want "integer"`,
	}
	if diff := cmp.Diff(want, Compare(theirs, ours)); diff != "" {
		t.Errorf("Compare (-want +got):\n%s", diff)
	}
	free := map[string]Field{".spec.mode": {Type: "string"}}
	if got := Compare(map[string]Field{".spec.mode": theirs[".spec.mode"]}, free); len(got) != 0 {
		t.Errorf("a free string accepts every enum value, got %v", got)
	}
}
