package artifact

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtract feeds arbitrary bytes to Extract: it must never panic, never
// write beside its target directory, and never leave a link there that
// leads out of it.
func FuzzExtract(f *testing.F) {
	seeds := [][]entry{
		{{name: "d/", typ: tar.TypeDir}, {name: "d/f", body: "hello"}, {name: "l", typ: tar.TypeSymlink, linkname: "d/f"}},
		{{name: "../evil", body: "x"}},
		{{name: "/abs", body: "x"}},
		{{name: "l", typ: tar.TypeSymlink, linkname: "/etc/passwd"}},
		{{name: "s", typ: tar.TypeSymlink, linkname: "."}, {name: "t", typ: tar.TypeSymlink, linkname: "s/x/../.."}},
		{{name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, linkname: "f"}, {name: "g", typ: tar.TypeLink, linkname: "../f"}},
		{{name: "dev", typ: tar.TypeChar}},
		{{name: "a/b/c/", typ: tar.TypeDir}, {name: "a/b/c/up", typ: tar.TypeSymlink, linkname: "../../.."}},
	}
	for _, s := range seeds {
		f.Add(makeTarGz(f, s...))
	}
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "out")
		_, _ = Extract(bytes.NewReader(data), dir, Limits{MaxSize: 1 << 20, MaxFiles: 1000})
		entries, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "out" {
				t.Fatalf("wrote %q beside the target", e.Name())
			}
		}
		assertConfined(t, dir)
	})
}
