package artifact

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gotk-dev/gotk/api/meta"
)

// artifactServer serves tar.gz archives by path, counting requests per
// path; gate, when set, holds every response until it is closed.
type artifactServer struct {
	srv   *httptest.Server
	files map[string][]byte
	gate  chan struct{}
	fail  atomic.Int32 // answer this many requests with 500 first
	mu    sync.Mutex
	hits  map[string]int
}

func newArtifactServer(t *testing.T, files map[string][]byte, gate chan struct{}) *artifactServer {
	t.Helper()
	a := &artifactServer{files: files, gate: gate, hits: map[string]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits[r.URL.Path]++
		a.mu.Unlock()
		if a.gate != nil {
			<-a.gate
		}
		if a.fail.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusNotFound)
			return
		}
		data, ok := a.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *artifactServer) artifact(path string) meta.Artifact {
	return meta.Artifact{URL: a.srv.URL + path, Digest: digestOf(a.files[path]), Revision: path}
}

func (a *artifactServer) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

func TestCacheDownloadsOnceForConcurrentConsumers(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	gate := make(chan struct{})
	as := newArtifactServer(t, map[string][]byte{"/a.tar.gz": archiveBytes(t, src, nil)}, gate)
	c, err := NewCache(t.TempDir(), quickFetcher(), 0)
	if err != nil {
		t.Fatal(err)
	}
	art := as.artifact("/a.tar.gz")

	const consumers = 10
	handles := make([]*Handle, consumers)
	errs := make([]error, consumers)
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			handles[i], errs[i] = c.Get(context.Background(), art)
		}()
	}
	// Hold the one download until every consumer asked, so that they all
	// really overlap.
	waitFor(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		e := c.entries[art.Digest]
		return e != nil && e.refs == consumers
	})
	close(gate)
	wg.Wait()

	if got := as.count("/a.tar.gz"); got != 1 {
		t.Errorf("%d downloads for %d consumers, want 1", got, consumers)
	}
	for i := range consumers {
		if errs[i] != nil {
			t.Fatalf("consumer %d: %v", i, errs[i])
		}
		if handles[i].Dir != handles[0].Dir {
			t.Errorf("consumer %d got %s, consumer 0 %s", i, handles[i].Dir, handles[0].Dir)
		}
	}
	if diff := cmp.Diff(readTree(t, src), readTree(t, handles[0].Dir)); diff != "" {
		t.Errorf("cached tree (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(handles[0].Dir, "deploy/app.yaml"))
	if err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("shared file mode %v (%v), want read-only", fi.Mode(), err)
	}

	// A consumer that must write takes a private copy.
	private := filepath.Join(t.TempDir(), "work")
	if err := handles[3].CopyTo(private); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "deploy/app.yaml"), []byte("mine"), 0o644); err != nil {
		t.Fatalf("private copy not writable: %v", err)
	}
	if diff := cmp.Diff(readTree(t, src), readTree(t, handles[0].Dir)); diff != "" {
		t.Errorf("writing the copy changed the shared tree:\n%s", diff)
	}
	if got := readTree(t, private)["link-to-app.yaml"]; got != "->deploy/app.yaml" {
		t.Errorf("copied link %q", got)
	}

	for _, h := range handles {
		h.Release()
		h.Release() // a second release is harmless
	}
	// A later consumer is served from the cache.
	h, err := c.Get(context.Background(), art)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if got := as.count("/a.tar.gz"); got != 1 {
		t.Errorf("%d downloads after a cached Get, want 1", got)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{}
	for _, n := range []string{"/a.tar.gz", "/b.tar.gz", "/c.tar.gz"} {
		files[n] = makeTarGz(t, entry{name: "f", body: strings.Repeat(n, 100)}) // 900 bytes unpacked
	}
	as := newArtifactServer(t, files, nil)
	// Room for two unused entries.
	c, err := NewCache(t.TempDir(), quickFetcher(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var clockMu sync.Mutex
	c.now = func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	get := func(p string) *Handle {
		t.Helper()
		h, err := c.Get(context.Background(), as.artifact(p))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := get("/a.tar.gz")
	a.Release()
	b := get("/b.tar.gz")
	b.Release()
	held := get("/a.tar.gz") // a is now the most recently used, and held
	c3 := get("/c.tar.gz")
	c3.Release() // over the size: b, the least recently used idle entry, goes
	if _, err := os.Stat(b.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b not evicted: %v", err)
	}
	for _, h := range []*Handle{held, c3} {
		if _, err := os.Stat(filepath.Join(h.Dir, "f")); err != nil {
			t.Errorf("%s evicted: %v", h.Digest, err)
		}
	}
	held.Release()
	if c.Len() != 2 {
		t.Errorf("cache holds %d entries, want 2", c.Len())
	}
	get("/b.tar.gz").Release()
	if got := as.count("/b.tar.gz"); got != 2 {
		t.Errorf("b downloaded %d times, want 2 (evicted once)", got)
	}
	if got := as.count("/a.tar.gz"); got != 1 {
		t.Errorf("a downloaded %d times, want 1", got)
	}
}

func TestCacheFailureIsNotCached(t *testing.T) {
	t.Parallel()
	data := makeTarGz(t, entry{name: "f", body: "x"})
	as := newArtifactServer(t, map[string][]byte{"/a.tar.gz": data}, nil)
	as.fail.Store(1)
	c, err := NewCache(t.TempDir(), quickFetcher(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), as.artifact("/a.tar.gz")); err == nil {
		t.Fatal("Get succeeded while the server failed")
	}
	if c.Len() != 0 {
		t.Errorf("a failed download stayed in the cache")
	}
	h, err := c.Get(context.Background(), as.artifact("/a.tar.gz"))
	if err != nil {
		t.Fatalf("Get after the server recovered: %v", err)
	}
	h.Release()
	entries, _ := os.ReadDir(c.dir)
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d entries, want 1 (no left-overs)", len(entries))
	}
}

func TestCacheConsumerGivingUpDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	data := makeTarGz(t, entry{name: "f", body: "x"})
	gate := make(chan struct{})
	as := newArtifactServer(t, map[string][]byte{"/a.tar.gz": data}, gate)
	c, err := NewCache(t.TempDir(), quickFetcher(), 0)
	if err != nil {
		t.Fatal(err)
	}
	art := as.artifact("/a.tar.gz")

	impatient, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(impatient, art)
		errc <- err
	}()
	type result struct {
		h   *Handle
		err error
	}
	patient := make(chan result, 1)
	go func() {
		h, err := c.Get(context.Background(), art)
		patient <- result{h, err}
	}()
	waitFor(t, func() bool { return as.count("/a.tar.gz") == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("impatient consumer: %v, want context.Canceled", err)
	}
	close(gate)
	r := <-patient
	if r.err != nil {
		t.Fatalf("patient consumer: %v", r.err)
	}
	defer r.h.Release()
	if b, _ := os.ReadFile(filepath.Join(r.h.Dir, "f")); string(b) != "x" {
		t.Errorf("f = %q", b)
	}
	if got := as.count("/a.tar.gz"); got != 1 {
		t.Errorf("%d downloads, want 1", got)
	}
}

func TestNewCacheCleansLeftOvers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "sha256-old/sub/f"), "old")
	if err := makeReadOnly(filepath.Join(dir, "sha256-old")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache(dir, nil, 0); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left-overs not removed: %d entries", len(entries))
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// while.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
