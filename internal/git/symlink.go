package git

import (
	"fmt"
	"io"
	"path"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// UnsafeSymlinkError says a commit holds a symbolic link that points out of
// the repository: to an absolute path, or above the root.
type UnsafeSymlinkError struct {
	Commit string
	Path   string
	Target string
}

// Error names the link and where it points.
func (e *UnsafeSymlinkError) Error() string {
	return fmt.Sprintf("commit %s: symbolic link %q points to %q, outside the repository", e.Commit, e.Path, e.Target)
}

// maxLinkTarget caps the bytes read for one link target.
const maxLinkTarget = 4096

// checkTree refuses a commit whose tree holds an entry Git would not
// check out (see safeEntryName) or a link leaving the repository. It
// decodes each tree once and reads only the links.
func checkTree(c *object.Commit) error {
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	return checkEntries(c, tree, "", 0)
}

// maxTreeDepth bounds the nesting of directories a checkout follows.
const maxTreeDepth = 256

func checkEntries(c *object.Commit, t *object.Tree, prefix string, depth int) error {
	if depth > maxTreeDepth {
		return &UnsafePathError{Commit: c.Hash.String(), Path: prefix}
	}
	for i := range t.Entries {
		e := &t.Entries[i]
		name := e.Name
		if prefix != "" {
			name = prefix + "/" + e.Name
		}
		if !safeEntryName(e.Name) {
			return &UnsafePathError{Commit: c.Hash.String(), Path: name}
		}
		switch e.Mode {
		case filemode.Dir:
			sub, err := t.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("reading tree %s: %w", name, err)
			}
			if err := checkEntries(c, sub, name, depth+1); err != nil {
				return err
			}
		case filemode.Symlink:
			if err := checkLink(c, t, e, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkLink(c *object.Commit, t *object.Tree, e *object.TreeEntry, name string) error {
	f, err := t.TreeEntryFile(e)
	if err != nil {
		return fmt.Errorf("reading link %s: %w", name, err)
	}
	r, err := f.Reader()
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxLinkTarget))
	r.Close()
	if err != nil {
		return err
	}
	target := string(b)
	if path.IsAbs(target) || !localPath(path.Join(path.Dir(name), target)) {
		return &UnsafeSymlinkError{Commit: c.Hash.String(), Path: name, Target: target}
	}
	return nil
}

// localPath reports whether a cleaned slash path stays below the root.
func localPath(p string) bool {
	p = path.Clean(p)
	return p != ".." && !(len(p) >= 3 && p[:3] == "../")
}
