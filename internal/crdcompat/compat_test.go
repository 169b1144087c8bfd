package crdcompat

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// factsFile is the checked-in list of Flux's field paths; `make
// compat-facts` writes it from Flux's CRD files.
const factsFile = "testdata/flux-fields.tsv"

const oursDir = "../../config/crd/bases"

// fluxKinds is how many CRDs Flux publishes for the APIs gotk serves.
const fluxKinds = 15

func readFacts(t *testing.T) *Facts {
	t.Helper()
	f, err := os.Open(factsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	facts, err := ReadFacts(f)
	if err != nil {
		t.Fatalf("%s: %v", factsFile, err)
	}
	return facts
}

// TestCompatibleWithFlux holds each of gotk's CRDs against Flux's: every
// field path, type and enum value that Flux accepts, gotk accepts. It reads
// Flux's side from the checked-in list, so it needs nothing outside the
// repository.
func TestCompatibleWithFlux(t *testing.T) {
	facts := readFacts(t)
	if len(facts.CRDs) != fluxKinds {
		t.Fatalf("want the %d Flux CRDs in %s, found %d", fluxKinds, factsFile, len(facts.CRDs))
	}
	total, matched := 0, 0
	for _, theirs := range facts.CRDs {
		t.Run(strings.TrimSuffix(theirs.File, ".yaml"), func(t *testing.T) {
			theirFields := theirs.Fields[theirs.Storage]
			if len(theirFields) == 0 {
				t.Fatalf("%s lists no field of the storage version %q", factsFile, theirs.Storage)
			}
			total += len(theirFields)
			ours, err := Load(filepath.Join(oursDir, theirs.File))
			if err != nil {
				t.Fatalf("gotk has no CRD for %s/%s: %v", theirs.Group, theirs.Kind, err)
			}
			if ours.Spec.Group != theirs.Group || ours.Spec.Names.Kind != theirs.Kind {
				t.Errorf("group/kind %s/%s, want %s/%s", ours.Spec.Group, ours.Spec.Names.Kind, theirs.Group, theirs.Kind)
			}
			if got := StorageVersion(ours); got != theirs.Storage {
				t.Errorf("storage version %q, want %q", got, theirs.Storage)
			}
			if diff := cmp.Diff(theirs.ShortNames, ours.Spec.Names.ShortNames); diff != "" {
				t.Errorf("short names (-flux +gotk):\n%s", diff)
			}
			ourFields, err := Fields(ours, theirs.Storage)
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

// The list is written and read back unchanged, and a line that is neither
// record is refused with its number.
func TestFactsRoundTrip(t *testing.T) {
	want := &Facts{CRDs: []CRDFacts{
		{File: "a.yaml", Group: "g.io", Kind: "A", Storage: "v1", ShortNames: []string{"a", "aa"}, Fields: map[string]map[string]Field{
			"v1":      {".spec": {Type: "object"}, ".spec.mode": {Type: "string", Enum: []string{"HEAD", "Tag"}}, ".spec.n": {Type: "integer", Format: "int64"}},
			"v1beta1": {".spec": {Type: "object"}},
		}},
		{File: "b.yaml", Group: "g.io", Kind: "B", Storage: "v2", Fields: map[string]map[string]Field{
			"v2": {".spec.values": {Type: "preserve-unknown"}},
		}},
	}}
	var buf bytes.Buffer
	if err := WriteFacts(&buf, want, "two kinds\nfor the test"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFacts(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	_, err = ReadFacts(strings.NewReader("# header\ncrd\ta.yaml\tg.io\tA\tv1\t\nfield\ta.yaml\tv1\t.spec\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("a short field line: got %v, want an error naming line 3", err)
	}
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
