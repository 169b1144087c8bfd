// Package artifact holds everything that produces or consumes source
// artifacts: the storage directory the source controllers write into
// (Storage), the deterministic tar.gz packer and its ignore rules (Archive,
// IgnoreFilter), the read-only HTTP server over the storage (Server), and, on
// the consumer side, the verifying downloader (Fetcher), the confined
// extractor (Extract) and a cache that shares one download per digest between
// consumers (Cache).
package artifact

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
)

// DefaultRetention is how many artifacts of an object, besides the current
// one, garbage collection keeps.
const DefaultRetention = 2

// tempPrefix starts the name of every file that is still being written. The
// server refuses names that start with a dot, so a half-written file is never
// served, and garbage collection recognises left-overs of a crash by it.
const tempPrefix = ".tmp-"

// staleTemp is how old a temporary file must be before garbage collection
// takes it for a left-over of a crash rather than a write in progress.
const staleTemp = time.Hour

// Ref names the object an artifact belongs to. Kind is taken as given rather
// than from an object's TypeMeta, which typed objects read from a cache leave
// empty.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

// RefFor returns the Ref of obj, whose kind is kind (such as
// sourcev1.GitRepositoryKind).
func RefFor(kind string, obj metav1.Object) Ref {
	return Ref{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String returns kind/namespace/name.
func (r Ref) String() string {
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Dir returns the directory of r's artifacts relative to the storage root:
// <kind-lowercase>/<namespace>/<name>.
func (r Ref) Dir() (string, error) {
	for _, part := range []struct{ field, value string }{
		{"kind", r.Kind}, {"namespace", r.Namespace}, {"name", r.Name},
	} {
		if err := checkName(part.value); err != nil {
			return "", fmt.Errorf("artifact owner %s: %s: %w", r, part.field, err)
		}
	}
	return path.Join(strings.ToLower(r.Kind), r.Namespace, r.Name), nil
}

// checkName accepts a single, non-hidden path element.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case strings.ContainsAny(s, `/\`+"\x00"):
		return fmt.Errorf("%q contains a path separator", s)
	case strings.HasPrefix(s, "."):
		return fmt.Errorf("%q starts with a dot", s)
	}
	return nil
}

// Storage is the directory tree where source controllers keep their
// artifacts, laid out as <kind>/<namespace>/<name>/<file>. Every operation is
// confined to the root through an os.Root: a name with "..", an absolute
// name, or a symbolic link that leads out of the root is refused.
//
// Storage is safe for concurrent use. Writes of different objects never
// touch the same directory; callers that reconcile one object from several
// goroutines serialise with Lock.
type Storage struct {
	root      *os.Root
	rootPath  string
	advAddr   string
	retention int
	now       func() time.Time
	locks     keyedMutex
}

// StorageOption changes a Storage made by NewStorage.
type StorageOption func(*Storage)

// WithRetention sets how many artifacts besides the current one garbage
// collection keeps; negative values count as zero.
func WithRetention(n int) StorageOption {
	return func(s *Storage) { s.retention = max(n, 0) }
}

// WithClock sets the clock that stamps lastUpdateTime, for tests.
func WithClock(now func() time.Time) StorageOption {
	return func(s *Storage) { s.now = now }
}

// NewStorage opens (creating it when missing) the storage root at dir.
// advAddr is the host[:port] that artifact URLs name (--storage-adv-addr).
func NewStorage(dir, advAddr string, opts ...StorageOption) (*Storage, error) {
	if advAddr == "" {
		return nil, errors.New("storage: advertised address is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage path %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage path %q: %w", abs, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("storage path %q: %w", abs, err)
	}
	s := &Storage{root: root, rootPath: abs, advAddr: advAddr, retention: DefaultRetention, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Close releases the root directory handle.
func (s *Storage) Close() error { return s.root.Close() }

// BasePath returns the absolute path of the storage root.
func (s *Storage) BasePath() string { return s.rootPath }

// FS returns a read-only file system over the storage root, confined to it.
func (s *Storage) FS() fs.FS { return s.root.FS() }

// Lock takes the lock of the object ref and returns the function that
// releases it. Reconciles of the same object from several workers (or a
// reconcile and a finalizer) hold it around writes and garbage collection.
func (s *Storage) Lock(ref Ref) (unlock func()) {
	return s.locks.lock(ref.String())
}

// URL returns the address an artifact at the relative path p is served
// from: http://<adv-addr>/<p>.
func (s *Storage) URL(p string) string {
	u := url.URL{Scheme: "http", Host: s.advAddr, Path: "/" + strings.TrimPrefix(p, "/")}
	return u.String()
}

// NewArtifact returns the artifact file of ref named file, with path, URL
// and revision set. Digest, size and lastUpdateTime are set when the file is
// written (Copy, WriteFile, ArchiveDir).
func (s *Storage) NewArtifact(ref Ref, revision, file string) (meta.Artifact, error) {
	dir, err := ref.Dir()
	if err != nil {
		return meta.Artifact{}, err
	}
	if err := checkName(file); err != nil {
		return meta.Artifact{}, fmt.Errorf("artifact of %s: file name: %w", ref, err)
	}
	p := path.Join(dir, file)
	return meta.Artifact{Path: p, URL: s.URL(p), Revision: revision}, nil
}

// localName checks that an artifact path is a clean, relative, visible path
// below the root and returns it.
func localName(p string) (string, error) {
	if !fs.ValidPath(p) || p == "." {
		return "", fmt.Errorf("artifact path %q is not a clean relative path", p)
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") {
			return "", fmt.Errorf("artifact path %q has a hidden element %q", p, el)
		}
	}
	return p, nil
}

// LocalPath returns the absolute file name of art in the storage, after
// checking that its path is confined to the root.
func (s *Storage) LocalPath(art meta.Artifact) (string, error) {
	p, err := localName(art.Path)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.rootPath, filepath.FromSlash(p)), nil
}

// Exists reports whether the file of art is present in the storage.
func (s *Storage) Exists(art meta.Artifact) bool {
	p, err := localName(art.Path)
	if err != nil {
		return false
	}
	fi, err := s.root.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Open opens the file of art for reading.
func (s *Storage) Open(art meta.Artifact) (*os.File, error) {
	p, err := localName(art.Path)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open artifact %s: %w", art.Path, err)
	}
	return f, nil
}

// Verify recomputes the digest of the stored file of art and compares it
// with art.Digest, to notice an artifact that disappeared or was altered.
func (s *Storage) Verify(art meta.Artifact) error {
	f, err := s.Open(art)
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := newVerifier(art.Digest)
	if err != nil {
		return fmt.Errorf("artifact %s: %w", art.Path, err)
	}
	if _, err := io.Copy(v, f); err != nil {
		return fmt.Errorf("read artifact %s: %w", art.Path, err)
	}
	if got := v.Digest(); got != art.Digest {
		return &DigestMismatchError{Source: art.Path, Want: art.Digest, Got: got}
	}
	return nil
}

// Copy writes the content of r as the file of art, atomically: readers see
// the previous file or the complete new one, never a part. It sets the
// digest, size and lastUpdateTime of art.
func (s *Storage) Copy(art *meta.Artifact, r io.Reader) error {
	return s.write(art, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// WriteFile writes data as the file of art (see Copy).
func (s *Storage) WriteFile(art *meta.Artifact, data []byte) error {
	return s.write(art, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ArchiveDir packs dir, minus what filter excludes, as the tar.gz file of art
// (see Archive and Copy).
func (s *Storage) ArchiveDir(art *meta.Artifact, dir string, filter Filter) error {
	return s.write(art, func(w io.Writer) error { return Archive(dir, w, filter) })
}

// write runs fill against a temporary file next to the artifact, syncs it,
// renames it into place and syncs the directory, hashing what fill writes.
func (s *Storage) write(art *meta.Artifact, fill func(io.Writer) error) (err error) {
	p, err := localName(art.Path)
	if err != nil {
		return err
	}
	dir := path.Dir(p)
	if err := s.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create artifact directory %s: %w", dir, err)
	}
	tmp := path.Join(dir, tempPrefix+randomSuffix())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create temporary file for artifact %s: %w", p, err)
	}
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = s.root.Remove(tmp)
		}
	}()
	h := newSHA256()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err := fill(cw); err != nil {
		return fmt.Errorf("write artifact %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync artifact %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return fmt.Errorf("close artifact %s: %w", p, err)
	}
	f = nil
	if err := s.root.Rename(tmp, p); err != nil {
		return fmt.Errorf("rename artifact %s into place: %w", p, err)
	}
	if d, derr := s.root.Open(dir); derr == nil {
		// The rename is durable only once the directory entry is on disk.
		_ = d.Sync()
		_ = d.Close()
	}
	size := cw.n
	art.Digest = h.Digest()
	art.Size = &size
	art.LastUpdateTime = metav1.NewTime(s.now().UTC().Truncate(time.Second))
	art.URL = s.URL(p)
	return nil
}

// GarbageCollect deletes the files of ref except current and the
// retention-many most recently modified others, and returns the paths it
// deleted (relative to the root). Temporary files older than an hour, left
// by a crash, are deleted too. Callers hold Lock(ref).
func (s *Storage) GarbageCollect(ref Ref, current meta.Artifact) ([]string, error) {
	dir, err := ref.Dir()
	if err != nil {
		return nil, err
	}
	d, err := s.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("garbage collect %s: %w", ref, err)
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return nil, fmt.Errorf("garbage collect %s: list %s: %w", ref, dir, err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var candidates []file
	var deleted []string
	var errs []error
	remove := func(name string) {
		p := path.Join(dir, name)
		if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete %s: %w", p, err))
			return
		}
		deleted = append(deleted, p)
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		switch {
		case strings.HasPrefix(e.Name(), tempPrefix):
			if s.now().Sub(info.ModTime()) > staleTemp {
				remove(e.Name())
			}
		case p == current.Path || !info.Mode().IsRegular():
			// The current artifact stays; so does anything that is not a
			// plain file, which this package never writes.
		default:
			candidates = append(candidates, file{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(candidates, func(i, j int) bool {
		if !candidates[i].mod.Equal(candidates[j].mod) {
			return candidates[i].mod.After(candidates[j].mod)
		}
		return candidates[i].name > candidates[j].name
	})
	for i, c := range candidates {
		if i >= s.retention {
			remove(c.name)
		}
	}
	return deleted, errors.Join(errs...)
}

// Remove deletes every artifact of ref with its directory, for finalizers.
// Callers hold Lock(ref).
func (s *Storage) Remove(ref Ref) error {
	dir, err := ref.Dir()
	if err != nil {
		return err
	}
	if err := s.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove artifacts of %s: %w", ref, err)
	}
	return nil
}

// randomSuffix returns 16 random hex digits for temporary names.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// keyedMutex is a set of mutexes created on demand and dropped when no one
// holds or waits for them, so locking many objects over time does not grow
// memory.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*refMutex)
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.users++
	k.mu.Unlock()

	m.Lock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.Unlock()
			k.mu.Lock()
			m.users--
			if m.users == 0 {
				delete(k.locks, key)
			}
			k.mu.Unlock()
		})
	}
}
