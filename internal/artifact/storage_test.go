package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

var podinfo = Ref{Kind: "GitRepository", Namespace: "default", Name: "podinfo"}

func newTestStorage(t *testing.T, opts ...StorageOption) *Storage {
	t.Helper()
	s, err := NewStorage(t.TempDir(), "source-controller.gotk-system.svc.cluster.local.", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStorageArtifact(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	s := newTestStorage(t, WithClock(func() time.Time { return clock }))
	src := t.TempDir()
	writeTree(t, src, sampleTree)

	art, err := s.NewArtifact(podinfo, "main@sha1:1a2b3c", "1a2b3c.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ArchiveDir(&art, src, nil); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(s.BasePath(), "gitrepository/default/podinfo/1a2b3c.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(file))
	want := meta.Artifact{
		Path:           "gitrepository/default/podinfo/1a2b3c.tar.gz",
		URL:            "http://source-controller.gotk-system.svc.cluster.local./gitrepository/default/podinfo/1a2b3c.tar.gz",
		Revision:       "main@sha1:1a2b3c",
		Digest:         digestOf(file),
		LastUpdateTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Size:           &size,
	}
	if diff := cmp.Diff(want, art); diff != "" {
		t.Errorf("artifact (-want +got):\n%s", diff)
	}
	if want.Digest != digestOf(archiveBytes(t, src, nil)) {
		t.Error("stored file differs from Archive's output")
	}
	if !s.Exists(art) {
		t.Error("Exists = false for a stored artifact")
	}
	if err := s.Verify(art); err != nil {
		t.Errorf("Verify: %v", err)
	}
	tampered := art
	tampered.Digest = digestOf([]byte("something else"))
	var dm *DigestMismatchError
	if err := s.Verify(tampered); !errors.As(err, &dm) {
		t.Errorf("Verify of a wrong digest: %v, want a DigestMismatchError", err)
	}
}

func TestStorageWriteIsAtomic(t *testing.T) {
	t.Parallel()
	s := newTestStorage(t)
	art, err := s.NewArtifact(podinfo, "sha256:x", "index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 1<<20)
	if err := s.WriteFile(&art, a); err != nil {
		t.Fatal(err)
	}

	t.Run("a failed write leaves the previous file and no temporary", func(t *testing.T) {
		boom := errors.New("source went away")
		err := s.Copy(&art, io.MultiReader(bytes.NewReader(b[:1000]), errReader{boom}))
		if !errors.Is(err, boom) {
			t.Fatalf("Copy error %v, want %v", err, boom)
		}
		got, err := os.ReadFile(filepath.Join(s.BasePath(), art.Path))
		if err != nil || !bytes.Equal(got, a) {
			t.Fatalf("after a failed write the file changed (err %v)", err)
		}
		entries, _ := os.ReadDir(filepath.Join(s.BasePath(), "gitrepository/default/podinfo"))
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
		}
	})

	t.Run("readers see a whole file while it is rewritten", func(t *testing.T) {
		sums := map[string]bool{sha(a): true, sha(b): true}
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				content := a
				if i%2 == 0 {
					content = b
				}
				w := art
				if err := s.WriteFile(&w, content); err != nil {
					t.Error(err)
					return
				}
			}
			stop.Store(true)
		}()
		reads := 0
		for !stop.Load() || reads == 0 {
			got, err := os.ReadFile(filepath.Join(s.BasePath(), art.Path))
			if err != nil {
				t.Fatal(err)
			}
			if !sums[sha(got)] {
				t.Fatalf("read %d bytes that are neither version", len(got))
			}
			reads++
		}
		wg.Wait()
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestStorageGarbageCollect(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name      string
		retention []StorageOption
		current   string
		want      []string // files left
	}{
		{name: "default keeps two plus the current", current: "f1.tar.gz",
			want: []string{tempPrefix + "fresh", "f1.tar.gz", "f4.tar.gz", "f5.tar.gz"}},
		{name: "current is the newest", current: "f5.tar.gz",
			want: []string{tempPrefix + "fresh", "f3.tar.gz", "f4.tar.gz", "f5.tar.gz"}},
		{name: "retention zero", retention: []StorageOption{WithRetention(0)}, current: "f3.tar.gz",
			want: []string{tempPrefix + "fresh", "f3.tar.gz"}},
		{name: "retention larger than history", retention: []StorageOption{WithRetention(10)}, current: "f3.tar.gz",
			want: []string{tempPrefix + "fresh", "f1.tar.gz", "f2.tar.gz", "f3.tar.gz", "f4.tar.gz", "f5.tar.gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestStorage(t, append(tt.retention, WithClock(func() time.Time { return now }))...)
			var current meta.Artifact
			for i := 1; i <= 5; i++ {
				name := "f" + string(rune('0'+i)) + ".tar.gz"
				art, err := s.NewArtifact(podinfo, "rev", name)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.WriteFile(&art, []byte(name)); err != nil {
					t.Fatal(err)
				}
				// f1 is the oldest, f5 the newest.
				mod := now.Add(time.Duration(i-10) * time.Minute)
				if err := os.Chtimes(filepath.Join(s.BasePath(), art.Path), mod, mod); err != nil {
					t.Fatal(err)
				}
				if name == tt.current {
					current = art
				}
			}
			dir := filepath.Join(s.BasePath(), "gitrepository/default/podinfo")
			for name, age := range map[string]time.Duration{"stale": 2 * time.Hour, "fresh": time.Minute} {
				p := filepath.Join(dir, tempPrefix+name)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			// Another object's files are not touched.
			other := Ref{Kind: "GitRepository", Namespace: "default", Name: "other"}
			oart, _ := s.NewArtifact(other, "rev", "o.tar.gz")
			if err := s.WriteFile(&oart, []byte("o")); err != nil {
				t.Fatal(err)
			}

			unlock := s.Lock(podinfo)
			deleted, err := s.GarbageCollect(podinfo, current)
			unlock()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, listDir(t, dir)); diff != "" {
				t.Errorf("files left (-want +got):\n%s", diff)
			}
			if got, want := len(deleted), 6-len(tt.want)+1; got != want {
				t.Errorf("deleted %v, want %d paths", deleted, want)
			}
			if !s.Exists(oart) {
				t.Error("garbage collection removed another object's artifact")
			}
		})
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestStorageRemove(t *testing.T) {
	t.Parallel()
	s := newTestStorage(t)
	other := Ref{Kind: "GitRepository", Namespace: "default", Name: "podinfo-2"}
	var arts []meta.Artifact
	for _, r := range []Ref{podinfo, podinfo, other} {
		art, err := s.NewArtifact(r, "rev", "a"+randomSuffix()+".tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteFile(&art, []byte("x")); err != nil {
			t.Fatal(err)
		}
		arts = append(arts, art)
	}
	if err := s.Remove(podinfo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.BasePath(), "gitrepository/default/podinfo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("object directory still there: %v", err)
	}
	if s.Exists(arts[0]) || s.Exists(arts[1]) || !s.Exists(arts[2]) {
		t.Error("Remove deleted the wrong artifacts")
	}
	if err := s.Remove(podinfo); err != nil {
		t.Errorf("Remove of a removed object: %v", err)
	}
}

func TestStorageConfinement(t *testing.T) {
	t.Parallel()
	s := newTestStorage(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, r := range []Ref{
		{Kind: "GitRepository", Namespace: "..", Name: "x"},
		{Kind: "GitRepository", Namespace: "default", Name: "../../etc"},
		{Kind: "GitRepository", Namespace: "default", Name: ""},
		{Kind: "", Namespace: "default", Name: "x"},
		{Kind: "GitRepository", Namespace: "a/b", Name: "x"},
	} {
		if _, err := s.NewArtifact(r, "rev", "f.tar.gz"); err == nil {
			t.Errorf("NewArtifact(%+v) accepted", r)
		}
		if err := s.Remove(r); err == nil {
			t.Errorf("Remove(%+v) accepted", r)
		}
	}
	for _, file := range []string{"../f.tar.gz", "a/b.tar.gz", ".hidden", ""} {
		if _, err := s.NewArtifact(podinfo, "rev", file); err == nil {
			t.Errorf("NewArtifact with file %q accepted", file)
		}
	}
	for _, p := range []string{"../secret", "/etc/passwd", "gitrepository/../../secret", filepath.Join(outside, "secret"), "a//b", "a/./b"} {
		art := meta.Artifact{Path: p, Digest: digestOf(nil)}
		if _, err := s.Open(art); err == nil {
			t.Errorf("Open(%q) accepted", p)
		}
		if _, err := s.LocalPath(art); err == nil {
			t.Errorf("LocalPath(%q) accepted", p)
		}
		if err := s.WriteFile(&art, []byte("x")); err == nil {
			t.Errorf("WriteFile(%q) accepted", p)
		}
	}

	// A symbolic link planted in the storage does not lead out of it.
	if err := os.MkdirAll(filepath.Join(s.BasePath(), "gitrepository"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.BasePath(), "gitrepository", "evil")); err != nil {
		t.Fatal(err)
	}
	evil := Ref{Kind: "GitRepository", Namespace: "evil", Name: "x"}
	art, err := s.NewArtifact(evil, "rev", "f.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile(&art, []byte("planted")); err == nil {
		t.Error("WriteFile through a link out of the storage succeeded")
	}
	if _, err := s.Open(meta.Artifact{Path: "gitrepository/evil/secret"}); err == nil {
		t.Error("Open through a link out of the storage succeeded")
	}
	if err := s.Remove(evil); err != nil && !strings.Contains(err.Error(), "evil") {
		t.Errorf("Remove error does not name the object: %v", err)
	}
	if got := readTree(t, outside); !cmp.Equal(got, map[string]string{"secret": "secret"}) {
		t.Errorf("outside directory changed: %v", got)
	}
}

func TestStorageLock(t *testing.T) {
	t.Parallel()
	s := newTestStorage(t)
	other := Ref{Kind: "GitRepository", Namespace: "default", Name: "other"}
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				unlock := s.Lock(podinfo)
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				// A lock on another object is independent.
				unlockOther := s.Lock(other)
				unlockOther()
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Errorf("%d holders of one object's lock at once", maxInside.Load())
	}
	s.locks.mu.Lock()
	left := len(s.locks.locks)
	s.locks.mu.Unlock()
	if left != 0 {
		t.Errorf("%d lock entries left after every holder released", left)
	}
}
