package artifact

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gotk-dev/gotk/api/meta"
)

// DefaultCacheSize is how many bytes of unpacked artifacts a Cache keeps
// once no consumer uses them.
const DefaultCacheSize int64 = 1 << 30

// Cache shares downloads between consumers: however many consumers ask for
// the artifact of one digest at once, it is downloaded and unpacked once,
// into a directory of the cache named after the digest.
//
// The choice made here is to hand out that shared directory itself, read
// only, rather than a copy per consumer: a build that only reads (kustomize
// over an in-memory overlay, Helm loading a chart) costs no copy at all. Its
// files and directories are made read-only (0444/0555) so that a consumer
// that writes by mistake fails instead of changing what the others see; a
// consumer that needs to write takes its own copy with Handle.CopyTo.
//
// Each Handle holds a reference; an entry no one holds stays until the
// unpacked size of such entries passes the cache size, then the least
// recently used go first.
type Cache struct {
	dir     string
	fetcher *Fetcher
	maxSize int64
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
	size    int64 // unpacked bytes of the ready entries
}

// cacheEntry is the unpacked artifact of one digest.
type cacheEntry struct {
	digest   string
	dir      string
	done     chan struct{} // closed once the download ended
	err      error         // its failure, set before done is closed
	ready    bool          // unpacked and counted in Cache.size
	size     int64
	refs     int
	lastUsed time.Time
}

// NewCache returns a cache in dir, which it owns: anything dir holds is
// removed first, since a previous process may have left it half written.
// maxSize is the size to trim unused entries to (0 means
// DefaultCacheSize); f downloads (nil means a zero Fetcher).
func NewCache(dir string, f *Fetcher, maxSize int64) (*Cache, error) {
	if f == nil {
		f = &Fetcher{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("artifact cache %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact cache %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
			return nil, fmt.Errorf("artifact cache %s: clean: %w", dir, err)
		}
	}
	return &Cache{
		dir:     dir,
		fetcher: f,
		maxSize: cmpOr(maxSize, DefaultCacheSize),
		timeout: 10 * time.Minute,
		now:     time.Now,
		entries: map[string]*cacheEntry{},
	}, nil
}

// Handle is a consumer's hold on a cached artifact. Dir must be read, never
// written; Release gives the hold back once the consumer is done.
type Handle struct {
	// Dir is the shared directory the artifact is unpacked in.
	Dir string
	// Digest is the artifact's digest.
	Digest string

	cache *Cache
	entry *cacheEntry
	once  sync.Once
}

// Release ends the hold; Dir may be removed afterwards. Calling it again
// does nothing.
func (h *Handle) Release() {
	h.once.Do(func() { h.cache.release(h.entry) })
}

// CopyTo copies the artifact into dst (created, and which must not hold any
// of its names yet) as ordinary writable files, for a consumer that needs to
// change them.
func (h *Handle) CopyTo(dst string) error {
	if err := os.CopyFS(dst, os.DirFS(h.Dir)); err != nil {
		return fmt.Errorf("copy artifact %s to %s: %w", h.Digest, dst, err)
	}
	return nil
}

// Get returns a hold on the artifact unpacked, downloading it unless an
// entry for its digest exists or is being filled. The download runs on its
// own, bounded by the cache's timeout rather than ctx, so that a consumer
// that gives up does not fail the others waiting for the same digest; ctx
// bounds only this caller's wait.
func (c *Cache) Get(ctx context.Context, art meta.Artifact) (*Handle, error) {
	if _, err := newVerifier(art.Digest); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", art.URL, err)
	}
	c.mu.Lock()
	e := c.entries[art.Digest]
	if e == nil {
		e = &cacheEntry{
			digest: art.Digest,
			dir:    filepath.Join(c.dir, strings.ReplaceAll(art.Digest, ":", "-")),
			done:   make(chan struct{}),
		}
		c.entries[art.Digest] = e
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		go func() {
			defer cancel()
			c.fill(fctx, e, art)
		}()
	}
	e.refs++
	c.mu.Unlock()

	select {
	case <-e.done:
	case <-ctx.Done():
		c.release(e)
		return nil, fmt.Errorf("artifact %s: %w", art.URL, ctx.Err())
	}
	if e.err != nil {
		c.release(e)
		return nil, e.err
	}
	return &Handle{Dir: e.dir, Digest: e.digest, cache: c, entry: e}, nil
}

// fill downloads the artifact of e into a temporary directory, makes it
// read-only and renames it to e.dir.
func (c *Cache) fill(ctx context.Context, e *cacheEntry, art meta.Artifact) {
	tmp := filepath.Join(c.dir, tempPrefix+randomSuffix())
	stats, err := c.fetcher.FetchStats(ctx, art, tmp)
	if err == nil {
		err = makeReadOnly(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, e.dir)
	}
	c.mu.Lock()
	if err != nil {
		_ = removeTree(tmp)
		e.err = err
		// Forget the failure so that the next Get tries again.
		if c.entries[e.digest] == e {
			delete(c.entries, e.digest)
		}
	} else {
		e.ready = true
		e.size = stats.Bytes
		e.lastUsed = c.now()
		c.size += e.size
	}
	close(e.done)
	c.mu.Unlock()
}

// release drops a reference to e and trims the cache.
func (c *Cache) release(e *cacheEntry) {
	c.mu.Lock()
	e.refs--
	e.lastUsed = c.now()
	var doomed []string
	if c.size > c.maxSize {
		doomed = c.evictLocked()
	}
	c.mu.Unlock()
	for _, d := range doomed {
		_ = removeTree(d)
	}
}

// evictLocked drops unused ready entries, least recently used first, until
// the size fits; it renames their directories out of the way (so a new
// entry of the same digest can take the name at once) and returns the new
// names for removal outside the lock.
func (c *Cache) evictLocked() []string {
	var idle []*cacheEntry
	for _, e := range c.entries {
		if e.ready && e.refs == 0 {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *cacheEntry) int { return a.lastUsed.Compare(b.lastUsed) })
	var doomed []string
	for _, e := range idle {
		if c.size <= c.maxSize {
			break
		}
		delete(c.entries, e.digest)
		c.size -= e.size
		trash := filepath.Join(c.dir, tempPrefix+"evicted-"+randomSuffix())
		if err := os.Rename(e.dir, trash); err != nil {
			trash = e.dir
		}
		doomed = append(doomed, trash)
	}
	return doomed
}

// Len returns how many digests the cache holds or is filling.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// makeReadOnly removes the write permission from everything under dir,
// directories last so the walk can still reach their content.
func makeReadOnly(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o444)
			if info.Mode().Perm()&0o111 != 0 {
				mode = 0o555
			}
			return os.Chmod(p, mode)
		}
		return nil // symbolic links have no permissions of their own
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := os.Chmod(d, 0o555); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes p and everything under it, first giving back the
// write permission of directories that makeReadOnly took away.
func removeTree(p string) error {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	err := os.RemoveAll(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
