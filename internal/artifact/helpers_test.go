package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// entry is one raw tar entry of a hand-made archive.
type entry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
	size     int64 // overrides len(body) when set
}

// makeTarGz builds a tar.gz from raw entries, with no checks, so that tests
// can feed the extractor what a hostile server would.
func makeTarGz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		size := int64(len(e.body))
		if e.size != 0 {
			size = e.size
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.linkname, Mode: mode, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if typ == tar.TypeReg && e.body != "" {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatalf("write body %q: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// digestOf returns "sha256:<hex>" of b.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// writeTree creates files under dir from a map of relative path to content;
// a path ending in "/" is a directory, content "->target" a symbolic link.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the files under dir as relative path to content, with
// directories as "dir/" -> "" and symbolic links as "->target".
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "->" + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tarNames lists the entry names of a tar.gz, in archive order.
func tarNames(t testing.TB, data []byte) []string {
	t.Helper()
	var names []string
	forEachHeader(t, data, func(h *tar.Header) { names = append(names, h.Name) })
	return names
}

func forEachHeader(t testing.TB, data []byte, fn func(*tar.Header)) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h)
	}
}

// archiveBytes archives dir with filter and returns the bytes.
func archiveBytes(t testing.TB, dir string, filter Filter) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Archive(dir, &buf, filter); err != nil {
		t.Fatalf("Archive(%s): %v", dir, err)
	}
	return buf.Bytes()
}

// physical resolves p (absolute) the way the kernel would, following
// symbolic links of the components that exist and taking missing ones as
// they are, and returns where it lands.
func physical(p string, depth int) string {
	if depth > 40 {
		return "/" // a loop: the kernel gives up, nothing is reached
	}
	cur := "/"
	for _, el := range strings.Split(filepath.Clean(p), "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, el)
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(next)
		if err != nil {
			cur = next
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(cur, target)
		}
		cur = physical(target, depth+1)
	}
	return cur
}

// assertConfined fails the test when something under dir is not a plain
// directory, file or link, or a link under dir resolves outside it.
func assertConfined(t testing.TB, dir string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				t.Errorf("link %s has absolute target %q", p, target)
				return nil
			}
			landed := physical(filepath.Join(filepath.Dir(p), target), 0)
			if landed != real && !strings.HasPrefix(landed, real+"/") {
				t.Errorf("link %s -> %q lands outside at %s", p, target, landed)
			}
		case d.IsDir(), d.Type().IsRegular():
		default:
			t.Errorf("%s has type %v", p, d.Type())
		}
		return nil
	})
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
