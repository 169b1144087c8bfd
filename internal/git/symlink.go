package git

import (
	"errors"
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

// checkSymlinks refuses a commit whose tree holds a link leaving the
// repository. Only links are read, so the cost is one walk of the tree.
func checkSymlinks(c *object.Commit) error {
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if entry.Mode != filemode.Symlink {
			continue
		}
		f, err := tree.TreeEntryFile(&entry)
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
	}
}

// localPath reports whether a cleaned slash path stays below the root.
func localPath(p string) bool {
	p = path.Clean(p)
	return p != ".." && !(len(p) >= 3 && p[:3] == "../")
}
