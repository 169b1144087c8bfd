package git

import (
	"fmt"
	"io"
	"path"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// OutsideLink is a symbolic link of a commit that points out of the
// repository: to an absolute path, or above the root. A checkout leaves
// it out of the work tree.
type OutsideLink struct {
	// Path is the link's path in the repository, with forward slashes.
	Path string
	// Target is where it points, as committed.
	Target string
}

// String shows the link as "path -> target".
func (l OutsideLink) String() string { return l.Path + " -> " + l.Target }

// maxLinkTarget caps the bytes read for one link target.
const maxLinkTarget = 4096

// checkTree refuses a commit whose tree holds an entry Git would not
// check out (see safeEntryName), and lists the links that leave the
// repository, in tree order. It decodes each tree once and reads only the
// links.
func checkTree(c *object.Commit) ([]OutsideLink, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var out []OutsideLink
	err = checkEntries(c, tree, "", 0, &out)
	return out, err
}

// maxTreeDepth bounds the nesting of directories a checkout follows.
const maxTreeDepth = 256

func checkEntries(c *object.Commit, t *object.Tree, prefix string, depth int, out *[]OutsideLink) error {
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
			if err := checkEntries(c, sub, name, depth+1, out); err != nil {
				return err
			}
		case filemode.Symlink:
			target, err := readLink(t, e, name)
			if err != nil {
				return err
			}
			if path.IsAbs(target) || !localPath(path.Join(path.Dir(name), target)) {
				*out = append(*out, OutsideLink{Path: name, Target: target})
			}
		}
	}
	return nil
}

func readLink(t *object.Tree, e *object.TreeEntry, name string) (string, error) {
	f, err := t.TreeEntryFile(e)
	if err != nil {
		return "", fmt.Errorf("reading link %s: %w", name, err)
	}
	r, err := f.Reader()
	if err != nil {
		return "", fmt.Errorf("reading link %s: %w", name, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxLinkTarget))
	r.Close()
	if err != nil {
		return "", fmt.Errorf("reading link %s: %w", name, err)
	}
	return string(b), nil
}

// localPath reports whether a cleaned slash path stays below the root.
func localPath(p string) bool {
	p = path.Clean(p)
	return p != ".." && !(len(p) >= 3 && p[:3] == "../")
}
