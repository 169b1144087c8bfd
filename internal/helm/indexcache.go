package helm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// DefaultIndexCacheSize is how many indexes an IndexCache holds.
const DefaultIndexCacheSize = 8

// IndexCache holds, for the few most recently used repository index
// artifacts, only what a chart lookup needs: for each chart name its
// versions with their URLs and digests. It is keyed by the digest of the
// index artifact, so all the HelmCharts of one repository share one entry
// and an index is read once per new revision, however many charts use it.
// Reading streams the stored index: the whole index is never held parsed.
// The zero value is not usable; use NewIndexCache.
type IndexCache struct {
	max int

	mu      sync.Mutex
	entries map[string]*cachedIndex
	// order lists the digests from least to most recently used.
	order []string
	reads int
	// readsOf counts the reads of each cached digest.
	readsOf map[string]int
}

type cachedIndex struct {
	ready  chan struct{}
	charts map[string][]IndexEntry
	err    error
}

// NewIndexCache returns a cache of at most size indexes (at least 1).
func NewIndexCache(size int) *IndexCache {
	if size < 1 {
		size = 1
	}
	return &IndexCache{max: size, entries: map[string]*cachedIndex{}, readsOf: map[string]int{}}
}

// Reads returns how many times an index was read from storage.
func (c *IndexCache) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// ReadsOf returns how many times the index of digest was read from
// storage while it stayed cached.
func (c *IndexCache) ReadsOf(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readsOf[digest]
}

// Lookup returns the versions of chart name in the index artifact of
// digest stored at file; source names the index in errors. Concurrent
// lookups of a digest not cached yet wait for one read. A name the index
// does not list returns a *ChartNotFoundError.
func (c *IndexCache) Lookup(digest, file, source, name string) ([]IndexEntry, error) {
	c.mu.Lock()
	e, ok := c.entries[digest]
	if !ok {
		e = &cachedIndex{ready: make(chan struct{})}
		c.entries[digest] = e
		c.reads++
		c.readsOf[digest]++
	}
	c.touch(digest)
	c.mu.Unlock()
	if !ok {
		e.charts, e.err = readIndexEntries(file, source)
		close(e.ready)
		if e.err != nil {
			c.mu.Lock()
			if c.entries[digest] == e {
				c.forget(digest)
			}
			c.mu.Unlock()
		}
	}
	<-e.ready
	if e.err != nil {
		return nil, e.err
	}
	versions := e.charts[name]
	if len(versions) == 0 {
		return nil, &ChartNotFoundError{Chart: name}
	}
	return versions, nil
}

// touch moves digest to the end of order and evicts the least recently
// used indexes over max. The caller holds mu.
func (c *IndexCache) touch(digest string) {
	for i, d := range c.order {
		if d == digest {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	c.order = append(c.order, digest)
	for len(c.order) > c.max {
		delete(c.entries, c.order[0])
		delete(c.readsOf, c.order[0])
		c.order = c.order[1:]
	}
}

// forget drops digest. The caller holds mu.
func (c *IndexCache) forget(digest string) {
	delete(c.entries, digest)
	for i, d := range c.order {
		if d == digest {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// readIndexEntries streams the index at file, which is JSON as the
// HelmRepository controller stores it (Index.Data), keeping of each chart
// version its name, version, URLs and digest. Only one version entry is
// decoded at a time.
func readIndexEntries(file, source string) (map[string][]IndexEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	charts, err := decodeIndexEntries(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, &InvalidIndexError{URL: source, Err: err}
	}
	return charts, nil
}

func decodeIndexEntries(r io.Reader) (map[string][]IndexEntry, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	charts := map[string][]IndexEntry{}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if key != "entries" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if err := expectDelim(dec, '{'); err != nil {
			return nil, fmt.Errorf("entries: %w", err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			name, _ := tok.(string)
			if err := expectDelim(dec, '['); err != nil {
				return nil, fmt.Errorf("entries.%s: %w", name, err)
			}
			var versions []IndexEntry
			for dec.More() {
				var e IndexEntry
				if err := dec.Decode(&e); err != nil {
					return nil, fmt.Errorf("entries.%s: %w", name, err)
				}
				if e.Version == "" {
					continue
				}
				e.Name = name
				versions = append(versions, e)
			}
			if err := expectDelim(dec, ']'); err != nil {
				return nil, err
			}
			if len(versions) > 0 {
				charts[name] = append(charts[name], versions...)
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, err
		}
	}
	return charts, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}
