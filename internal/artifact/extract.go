package artifact

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Default limits of an extraction.
const (
	DefaultMaxSize  int64 = 512 << 20 // bytes of file content
	DefaultMaxFiles       = 100_000   // entries of any type
)

// Limits caps what an extraction may write. Zero fields take the defaults.
type Limits struct {
	// MaxSize is the most bytes of file content an archive may unpack to.
	MaxSize int64
	// MaxFiles is the most entries (files, directories, links) it may hold.
	MaxFiles int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// Stats tells what an extraction wrote.
type Stats struct {
	Files int   // entries created
	Bytes int64 // bytes of file content
}

// ErrLimit is wrapped by the errors of an archive over its Limits.
var ErrLimit = errors.New("archive exceeds a limit")

// UnsafePathError reports an archive entry (or, when archiving, a file of
// the tree) that would reach outside its directory or is of a type that is
// never extracted.
type UnsafePathError struct {
	Entry  string
	Reason string
}

// Error names the entry and why it was refused.
func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("unsafe entry %q: %s", e.Entry, e.Reason)
}

// Extract unpacks the gzip-compressed tar read from r into dir, which is
// created when missing and should be empty. Every entry stays confined to
// dir: names that are absolute or climb with "..", symbolic links whose
// target leaves dir, hard links to anything but a regular file unpacked
// before, entries below a symbolic link, and devices or FIFOs are refused
// with an *UnsafePathError naming the entry. Modes are reduced to 0755 and
// 0644; owners and times are not restored. On error, what was unpacked so
// far is left for the caller to remove.
func Extract(r io.Reader, dir string, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("extract into %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("extract into %s: %w", dir, err)
	}
	defer root.Close()

	gz, err := gzip.NewReader(r)
	if err != nil {
		return Stats{}, fmt.Errorf("extract into %s: not a gzip stream: %w", dir, err)
	}
	gz.Multistream(false)
	// Headers, padding and PAX records are not file content; this bound on
	// the whole decompressed stream keeps them from inflating without end.
	streamCap := lim.MaxSize + int64(lim.MaxFiles)*2048 + 64<<20
	x := &extractor{
		root:  root,
		lim:   lim,
		dirs:  map[string]bool{".": true},
		files: map[string]bool{},
	}
	tr := tar.NewReader(&cappedReader{r: gz, left: streamCap})
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return x.stats, fmt.Errorf("extract into %s: read archive: %w", dir, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.stats, fmt.Errorf("extract into %s: %w", dir, err)
		}
	}
	return x.stats, nil
}

// extractor holds the state of one extraction.
type extractor struct {
	root  *os.Root
	lim   Limits
	stats Stats
	// dirs are the directories known to be real ones (no link on the way).
	dirs map[string]bool
	// files are the regular files unpacked so far: hard link targets.
	files map[string]bool
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX global records carry nothing to write
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	default:
		return &UnsafePathError{Entry: hdr.Name, Reason: typeName(hdr.Typeflag) + " is never extracted"}
	}
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the directory itself
	}
	if x.stats.Files >= x.lim.MaxFiles {
		return fmt.Errorf("entry %q: more than %d entries: %w", hdr.Name, x.lim.MaxFiles, ErrLimit)
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	if x.stats.Files >= x.lim.MaxFiles {
		return fmt.Errorf("entry %q: more than %d entries: %w", hdr.Name, x.lim.MaxFiles, ErrLimit)
	}
	x.stats.Files++

	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(hdr.Name, name)
	case tar.TypeSymlink:
		target, err := cleanLinkTarget(name, hdr.Linkname)
		if err != nil {
			return &UnsafePathError{Entry: hdr.Name, Reason: "symbolic link: " + err.Error()}
		}
		if err := x.clear(hdr.Name, name); err != nil {
			return err
		}
		if err := x.root.Symlink(target, name); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		return nil
	case tar.TypeLink:
		old, err := entryName(hdr.Linkname)
		if err != nil || !x.files[old] {
			return &UnsafePathError{Entry: hdr.Name, Reason: fmt.Sprintf("hard link to %q, which is not a file of the archive", hdr.Linkname)}
		}
		if old == name {
			return nil
		}
		if err := x.clear(hdr.Name, name); err != nil {
			return err
		}
		if err := x.root.Link(old, name); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		x.files[name] = true
		return nil
	default:
		return x.file(hdr, name, r)
	}
}

// entryName turns an archive name into a clean local path with forward
// slashes, refusing absolute names and names that climb with "..".
func entryName(raw string) (string, error) {
	if raw == "" {
		return "", &UnsafePathError{Entry: raw, Reason: "empty name"}
	}
	if strings.ContainsRune(raw, 0) {
		return "", &UnsafePathError{Entry: raw, Reason: "name contains a NUL byte"}
	}
	if path.IsAbs(raw) || filepath.IsAbs(raw) {
		return "", &UnsafePathError{Entry: raw, Reason: "absolute path"}
	}
	name := path.Clean(raw)
	if name == "." {
		return name, nil
	}
	for el := range strings.SplitSeq(raw, "/") {
		if el == ".." {
			return "", &UnsafePathError{Entry: raw, Reason: `path climbs with ".."`}
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", &UnsafePathError{Entry: raw, Reason: "not a local path"}
	}
	return name, nil
}

// parents makes sure every directory above name is a real directory,
// creating the missing ones; an entry below a symbolic link or a file is
// refused, which keeps link targets meaning what they were checked for.
func (x *extractor) parents(raw, name string) error {
	dir := path.Dir(name)
	if x.dirs[dir] {
		return nil
	}
	walked := "."
	for el := range strings.SplitSeq(dir, "/") {
		walked = path.Join(walked, el)
		if x.dirs[walked] {
			continue
		}
		fi, err := x.root.Lstat(walked)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Directories implied by a name count as entries, or one long
			// name could create any number of them.
			if x.stats.Files >= x.lim.MaxFiles {
				return fmt.Errorf("entry %q: more than %d entries: %w", raw, x.lim.MaxFiles, ErrLimit)
			}
			if err := x.root.Mkdir(walked, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", raw, err)
			}
			x.stats.Files++
		case err != nil:
			return fmt.Errorf("entry %q: %w", raw, err)
		case !fi.IsDir():
			return &UnsafePathError{Entry: raw, Reason: fmt.Sprintf("%q above it is not a directory", walked)}
		}
		x.dirs[walked] = true
	}
	return nil
}

// mkdir creates the directory entry name.
func (x *extractor) mkdir(raw, name string) error {
	fi, err := x.root.Lstat(name)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		if err := x.clear(raw, name); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(name, 0o755); err != nil {
			return fmt.Errorf("entry %q: %w", raw, err)
		}
	default:
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	x.dirs[name] = true
	return nil
}

// clear removes whatever non-directory sits at name so that a new entry
// replaces it instead of writing through it; a directory there is an
// error, since replacing it would change what earlier links point to.
func (x *extractor) clear(raw, name string) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	if fi.IsDir() {
		return &UnsafePathError{Entry: raw, Reason: "replaces a directory"}
	}
	delete(x.files, name)
	if err := x.root.Remove(name); err != nil {
		return fmt.Errorf("entry %q: %w", raw, err)
	}
	return nil
}

// file writes the regular file entry name.
func (x *extractor) file(hdr *tar.Header, name string, r io.Reader) error {
	if hdr.Size < 0 || hdr.Size > x.lim.MaxSize-x.stats.Bytes {
		return fmt.Errorf("entry %q: its %d bytes pass the limit of %d bytes of content (%d written before it): %w",
			hdr.Name, hdr.Size, x.lim.MaxSize, x.stats.Bytes, ErrLimit)
	}
	if err := x.clear(hdr.Name, name); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, hdr.Size))
	x.stats.Bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	x.files[name] = true
	return nil
}

// typeName names a tar entry type for error messages.
func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a FIFO"
	case tar.TypeGNUSparse:
		return "a GNU sparse file"
	}
	return fmt.Sprintf("entry type %q", string(t))
}

// cappedReader fails once more than left bytes are read through it.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// At the cap: only a stream that has nothing more is within it.
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("stream is larger than allowed: %w", ErrLimit)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
