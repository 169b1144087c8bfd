package git

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// UnsafePathError says a commit's tree holds an entry whose name Git
// itself would refuse to check out: empty, "." or "..", with a slash or a
// control character, or a ".git" directory.
type UnsafePathError struct {
	Commit string
	Path   string
}

// Error names the entry.
func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("commit %s: tree entry %q cannot be checked out safely", e.Commit, e.Path)
}

// exporter writes a commit's tree into a directory as plain files. A
// reconciler only packs the files, so this does what a checkout does for
// the work tree without the index, the status pass and the per-file path
// lookups that make go-git's Worktree.Checkout slow on large trees: each
// tree is decoded once, each blob streamed once.
type exporter struct {
	s      storer.EncodedObjectStorer
	commit string
	// sparse are the directories to export; none means all.
	sparse []string
	// skip are the paths of links not to write.
	skip map[string]bool
	buf  []byte
}

// exportTree writes the tree of c into dir, which must exist. Only the
// directories in sparse (and their parents) are written when it is not
// empty. Symbolic links are written as they are, except those whose
// paths are in skip (checkTree lists the links leaving the tree).
// Submodules become empty directories.
func exportTree(s storer.EncodedObjectStorer, c *object.Commit, dir string, sparse []string, skip map[string]bool) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tree, err := object.GetTree(s, c.TreeHash)
	if err != nil {
		return fmt.Errorf("reading the tree of commit %s: %w", c.Hash, err)
	}
	x := &exporter{s: s, commit: c.Hash.String(), sparse: sparse, skip: skip, buf: make([]byte, 128<<10)}
	return x.tree(root, tree, "")
}

// tree writes the entries of t into the directory d, whose path in the
// tree is prefix. Each directory is opened once and its entries are
// created relative to it: one openat per file rather than one per path
// element.
func (x *exporter) tree(d *os.Root, t *object.Tree, prefix string) error {
	for _, e := range t.Entries {
		p := e.Name
		if prefix != "" {
			p = prefix + "/" + e.Name
		}
		if !safeEntryName(e.Name) {
			return &UnsafePathError{Commit: x.commit, Path: p}
		}
		switch e.Mode {
		case filemode.Dir:
			if !x.wanted(p, true) {
				continue
			}
			if err := x.mkdir(d, e.Name, p); err != nil {
				return err
			}
			sub, err := object.GetTree(x.s, e.Hash)
			if err != nil {
				return fmt.Errorf("reading tree %s: %w", p, err)
			}
			subRoot, err := d.OpenRoot(e.Name)
			if err != nil {
				return fmt.Errorf("opening directory %s: %w", p, err)
			}
			err = x.tree(subRoot, sub, p)
			subRoot.Close()
			if err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			if !x.wanted(p, false) {
				continue
			}
			perm := os.FileMode(0o644)
			if e.Mode == filemode.Executable {
				perm = 0o755
			}
			if err := x.file(d, e.Name, p, e.Hash, perm); err != nil {
				return err
			}
		case filemode.Symlink:
			if !x.wanted(p, false) || x.skip[p] {
				continue
			}
			target, err := x.linkTarget(e.Hash)
			if err != nil {
				return fmt.Errorf("reading link %s: %w", p, err)
			}
			if err := d.Symlink(target, e.Name); err != nil {
				return fmt.Errorf("writing link %s: %w", p, err)
			}
		case filemode.Submodule:
			if x.wanted(p, true) {
				if err := x.mkdir(d, e.Name, p); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("commit %s: tree entry %q has unknown mode %s", x.commit, p, e.Mode)
		}
	}
	return nil
}

// wanted reports whether a path belongs in a sparse export: files below a
// listed directory, and directories on the way to one or below one.
func (x *exporter) wanted(p string, isDir bool) bool {
	return wantedPath(x.sparse, p, isDir)
}

// wantedPath reports whether a path belongs in a checkout limited to the
// sparse directories (all paths when there are none).
func wantedPath(sparse []string, p string, isDir bool) bool {
	if len(sparse) == 0 {
		return true
	}
	for _, d := range sparse {
		if p == d && isDir || strings.HasPrefix(p, d+"/") || isDir && strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

func (x *exporter) mkdir(d *os.Root, name, p string) error {
	if err := d.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating directory %s: %w", p, err)
	}
	return nil
}

func (x *exporter) file(d *os.Root, name, p string, h plumbing.Hash, perm os.FileMode) error {
	obj, err := x.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	defer r.Close()
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	_, err = io.CopyBuffer(f, r, x.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

func (x *exporter) linkTarget(h plumbing.Hash) (string, error) {
	obj, err := x.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return "", err
	}
	r, err := obj.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxLinkTarget))
	return string(b), err
}

// safeEntryName accepts what Git accepts as a tree entry to check out: a
// single, non-empty path element that is neither "." nor "..", holds no
// separator or control character, and is not ".git" in any spelling a
// case-insensitive file system would take for it.
func safeEntryName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	lower := strings.ToLower(strings.TrimRight(name, ". "))
	return lower != ".git" && lower != "git~1"
}
