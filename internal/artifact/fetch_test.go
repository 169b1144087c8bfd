package artifact

import (
	"archive/tar"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gotk-dev/gotk/api/meta"
)

// quickFetcher retries fast, so that tests do not wait for real backoffs.
func quickFetcher() *Fetcher {
	return &Fetcher{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
}

// serveBytes serves data at /a.tar.gz and counts the requests; fail makes
// the first n requests answer with a status instead.
func serveBytes(t *testing.T, data []byte, failFirst int, failStatus int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(n.Add(1)) <= failFirst {
			http.Error(w, "try later", failStatus)
			return
		}
		if r.URL.Path != "/a.tar.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFetchFromServer(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t)
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	art, err := s.NewArtifact(podinfo, "main@sha1:abc", "abc.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ArchiveDir(&art, src, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("good artifact", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		if err := quickFetcher().Fetch(context.Background(), art, dir); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(readTree(t, src), readTree(t, dir)); diff != "" {
			t.Errorf("fetched tree (-want +got):\n%s", diff)
		}
	})

	t.Run("digest mismatch", func(t *testing.T) {
		bad := art
		bad.Digest = digestOf([]byte("another revision"))
		dir := t.TempDir()
		err := quickFetcher().Fetch(context.Background(), bad, dir)
		var dm *DigestMismatchError
		if !errors.As(err, &dm) {
			t.Fatalf("Fetch error %v, want a DigestMismatchError", err)
		}
		for _, part := range []string{art.URL, bad.Digest, art.Digest} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not name %s", err, part)
			}
		}
		if left := readTree(t, dir); len(left) != 0 {
			t.Errorf("unverified content left behind: %v", sortedKeys(left))
		}
	})

	t.Run("download whole", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "chart.tgz")
		if err := quickFetcher().Download(context.Background(), art, dst); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dst)
		if digestOf(got) != art.Digest {
			t.Error("downloaded file differs from the artifact")
		}
	})

	t.Run("missing artifact is not retried", func(t *testing.T) {
		gone := art
		gone.URL = strings.Replace(art.URL, "abc.tar.gz", "gone.tar.gz", 1)
		err := quickFetcher().Fetch(context.Background(), gone, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "attempts") {
			t.Errorf("Fetch of a missing artifact: %v", err)
		}
	})
}

func TestFetchRetries(t *testing.T) {
	t.Parallel()
	data := makeTarGz(t, entry{name: "a.yaml", body: "a: 1\n"})
	tests := []struct {
		name      string
		failFirst int
		status    int
		retries   int
		wantErr   bool
		wantCalls int32
	}{
		{name: "500 then success", failFirst: 1, status: 500, wantCalls: 2},
		{name: "503 three times then success", failFirst: 3, status: 503, wantCalls: 4},
		{name: "429 then success", failFirst: 1, status: 429, wantCalls: 2},
		{name: "retries spent", failFirst: 100, status: 502, retries: 2, wantErr: true, wantCalls: 3},
		{name: "403 is final", failFirst: 100, status: 403, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, calls := serveBytes(t, data, tt.failFirst, tt.status)
			f := quickFetcher()
			f.Retries = tt.retries
			dir := t.TempDir()
			err := f.Fetch(context.Background(), meta.Artifact{URL: srv.URL + "/a.tar.gz", Digest: digestOf(data)}, dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Fetch error %v, want error=%v", err, tt.wantErr)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d requests, want %d", got, tt.wantCalls)
			}
			if !tt.wantErr {
				if b, _ := os.ReadFile(filepath.Join(dir, "a.yaml")); string(b) != "a: 1\n" {
					t.Errorf("a.yaml = %q", b)
				}
			}
		})
	}

	t.Run("context ends the wait", func(t *testing.T) {
		t.Parallel()
		srv, _ := serveBytes(t, data, 1000, 500)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		f := &Fetcher{MinBackoff: time.Hour, MaxBackoff: time.Hour}
		err := f.Fetch(ctx, meta.Artifact{URL: srv.URL + "/a.tar.gz", Digest: digestOf(data)}, t.TempDir())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fetch error %v, want the context's", err)
		}
	})
}

func TestFetchRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, a := range []meta.Artifact{
		{URL: "file:///etc/passwd", Digest: digestOf(nil)},
		{URL: "http://127.0.0.1:1/a.tar.gz", Digest: "sha256:../../etc"},
		{URL: "http://127.0.0.1:1/a.tar.gz", Digest: "md5:d41d8cd98f00b204e9800998ecf8427e"},
		{URL: "http://127.0.0.1:1/a.tar.gz", Digest: strings.ToUpper(digestOf(nil))},
	} {
		if err := quickFetcher().Fetch(context.Background(), a, t.TempDir()); err == nil {
			t.Errorf("Fetch(%+v) accepted", a)
		}
	}
}

// TestFetchHostileArchives serves archives that try to escape or exhaust
// the consumer, each with its correct digest, so that only the extractor's
// checks stand in the way.
func TestFetchHostileArchives(t *testing.T) {
	t.Parallel()
	many := make([]entry, 0, 30)
	for i := range 30 {
		many = append(many, entry{name: "f" + strings.Repeat("x", i), body: "x"})
	}
	tests := []struct {
		name    string
		entries []entry
		limits  Limits
		unsafe  bool   // want an *UnsafePathError
		limit   bool   // want ErrLimit
		names   string // the entry the error must name
	}{
		{name: "dot-dot", entries: []entry{{name: "ok", body: "x"}, {name: "../evil", body: "pwned"}}, unsafe: true, names: "../evil"},
		{name: "dot-dot inside", entries: []entry{{name: "a/../../evil", body: "pwned"}}, unsafe: true, names: "a/../../evil"},
		{name: "absolute path", entries: []entry{{name: "/tmp/evil", body: "pwned"}}, unsafe: true, names: "/tmp/evil"},
		{name: "symlink to /etc/passwd", entries: []entry{{name: "passwd", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, unsafe: true, names: "passwd"},
		{name: "relative symlink out", entries: []entry{{name: "a/l", typ: tar.TypeSymlink, linkname: "../../etc"}}, unsafe: true, names: "a/l"},
		{name: "write through a symlink", entries: []entry{
			{name: "l", typ: tar.TypeSymlink, linkname: "."},
			{name: "l/x", body: "through"},
		}, unsafe: true, names: "l/x"},
		{name: "hard link to /etc/passwd", entries: []entry{{name: "h", typ: tar.TypeLink, linkname: "/etc/passwd"}}, unsafe: true, names: "h"},
		{name: "hard link out", entries: []entry{{name: "h", typ: tar.TypeLink, linkname: "../outside"}}, unsafe: true, names: "h"},
		{name: "hard link to a symlink", entries: []entry{
			{name: "s", typ: tar.TypeSymlink, linkname: "x"},
			{name: "d/h", typ: tar.TypeLink, linkname: "s"},
		}, unsafe: true, names: "d/h"},
		{name: "character device", entries: []entry{{name: "null", typ: tar.TypeChar}}, unsafe: true, names: "null"},
		{name: "block device", entries: []entry{{name: "sda", typ: tar.TypeBlock}}, unsafe: true, names: "sda"},
		{name: "fifo", entries: []entry{{name: "pipe", typ: tar.TypeFifo}}, unsafe: true, names: "pipe"},
		{name: "file replacing a directory", entries: []entry{{name: "d/", typ: tar.TypeDir}, {name: "d/f", body: "x"}, {name: "d", body: "x"}}, unsafe: true, names: "d"},
		{name: "oversize", entries: []entry{{name: "a", body: strings.Repeat("a", 600)}, {name: "big", body: strings.Repeat("b", 600)}},
			limits: Limits{MaxSize: 1000}, limit: true, names: "big"},
		{name: "too many files", entries: many, limits: Limits{MaxFiles: 20}, limit: true, names: "f" + strings.Repeat("x", 20)},
		{name: "deep implied directories count", entries: []entry{{name: strings.Repeat("d/", 30) + "f", body: "x"}},
			limits: Limits{MaxFiles: 20}, limit: true, names: "d/d/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := makeTarGz(t, tt.entries...)
			srv, _ := serveBytes(t, data, 0, 0)
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			f := quickFetcher()
			f.Limits = tt.limits
			err := f.Fetch(context.Background(), meta.Artifact{URL: srv.URL + "/a.tar.gz", Digest: digestOf(data)}, dir)
			if err == nil {
				t.Fatal("Fetch accepted the archive")
			}
			var upe *UnsafePathError
			if tt.unsafe && !errors.As(err, &upe) {
				t.Errorf("error %v, want an UnsafePathError", err)
			}
			if tt.limit && !errors.Is(err, ErrLimit) {
				t.Errorf("error %v, want ErrLimit", err)
			}
			if !strings.Contains(err.Error(), `"`+tt.names) {
				t.Errorf("error %q does not name %q", err, tt.names)
			}
			if got := listDir(t, base); !cmp.Equal(got, []string{"out"}) {
				t.Errorf("written next to the target: %v", got)
			}
			if left := readTree(t, dir); len(left) != 0 {
				t.Errorf("left in the target after the failure: %v", sortedKeys(left))
			}
		})
	}
}

// TestExtractLinks checks the links an archive may hold, and that what
// they lead to stays inside.
func TestExtractLinks(t *testing.T) {
	t.Parallel()
	data := makeTarGz(t,
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/e/", typ: tar.TypeDir},
		entry{name: "d/f", body: "content", mode: 0o755},
		entry{name: "d/e/up", typ: tar.TypeSymlink, linkname: "../f"},
		entry{name: "d/e/root", typ: tar.TypeSymlink, linkname: "../.."},
		entry{name: "s", typ: tar.TypeSymlink, linkname: "d"},
		// Lexically ".", but read left to right through "s" it would be the
		// parent of the root: the extractor stores the clean form.
		entry{name: "trick", typ: tar.TypeSymlink, linkname: "s/e/../.."},
		entry{name: "hard", typ: tar.TypeLink, linkname: "d/f"},
		entry{name: "./dot/./x", body: "x"},
	)
	dir := filepath.Join(t.TempDir(), "out")
	stats, err := Extract(strings.NewReader(string(data)), dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"d/": "", "d/e/": "", "d/f": "content", "d/e/up": "->../f", "d/e/root": "->../..",
		"s": "->d", "trick": "->.", "hard": "content", "dot/": "", "dot/x": "x",
	}
	if diff := cmp.Diff(want, readTree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if stats.Files != len(want) || stats.Bytes != int64(len("content")+1) {
		t.Errorf("stats %+v", stats)
	}
	fi, err := os.Stat(filepath.Join(dir, "d/f"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("d/f mode %v (%v), want 0755", fi.Mode(), err)
	}
	assertConfined(t, dir)
}
