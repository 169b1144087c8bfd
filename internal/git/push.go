package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// MaxReadFile caps what Branch.ReadFile returns.
const MaxReadFile = 8 << 20

// Branch is one branch of a remote repository, fetched so that commits can
// be written on top of it and pushed. It never checks files out: commits
// are built from the branch's tree in the object store, so a repository
// whose work tree holds links or odd paths cannot make a write land
// outside the path it names.
type Branch struct {
	// Name is the branch name, such as "main".
	Name string
	// New is true when the branch does not exist on the remote yet (or
	// the repository is empty); the first commit then has no parent.
	New bool

	url   string
	s     *session
	repo  *gogit.Repository
	close func()
	ref   plumbing.ReferenceName
	head  plumbing.Hash
}

// OpenBranch fetches the branch of the repository at url into dir (a
// bare object store; dir must be empty) with the given credentials. A
// branch that the remote does not have, or an empty repository, opens as
// a New branch. Close releases the store.
func OpenBranch(ctx context.Context, url, dir, branch string, auth *Auth) (*Branch, error) {
	if err := validateBranchName(branch); err != nil {
		return nil, err
	}
	s, err := newSession(url, Options{Auth: auth})
	if err != nil {
		return nil, err
	}
	repo, closeRepo, err := initRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("creating a repository in %s: %w", dir, err)
	}
	b := &Branch{Name: branch, url: url, s: s, repo: repo, close: closeRepo, ref: plumbing.NewBranchReferenceName(branch)}
	spec := config.RefSpec("+" + b.ref.String() + ":" + b.remoteRef().String())
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}, Fetch: []config.RefSpec{spec}}); err != nil {
		b.Close()
		return nil, err
	}
	err = fetch(ctx, s, repo, []config.RefSpec{spec}, 0)
	var nm gogit.NoMatchingRefSpecError
	switch {
	case err == nil || errors.Is(err, gogit.NoErrAlreadyUpToDate):
		remote, err := repo.Reference(b.remoteRef(), true)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("reading the fetched branch %q: %w", branch, err)
		}
		b.head = remote.Hash()
	case errors.As(err, &nm), errors.Is(err, transport.ErrEmptyRemoteRepository):
		b.New = true
	default:
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close releases the object store.
func (b *Branch) Close() {
	if b.close != nil {
		b.close()
		b.close = nil
	}
}

func (b *Branch) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", b.Name)
}

// Revision is the branch's head as "<branch>@sha1:<hash>", or "" for a
// New branch without commits.
func (b *Branch) Revision() string {
	if b.head.IsZero() {
		return ""
	}
	return FormatRevision(b.Name, b.head.String())
}

// ReadFile returns the file at the slash-separated path in the branch's
// head, and false when there is none (or the branch is new).
func (b *Branch) ReadFile(name string) ([]byte, bool, error) {
	parts, err := splitRepoPath(name)
	if err != nil {
		return nil, false, err
	}
	if b.head.IsZero() {
		return nil, false, nil
	}
	c, err := b.repo.CommitObject(b.head)
	if err != nil {
		return nil, false, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, false, err
	}
	f, err := tree.File(strings.Join(parts, "/"))
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", name, err)
	}
	if !f.Mode.IsFile() {
		return nil, false, fmt.Errorf("%s in branch %q is not a regular file", name, b.Name)
	}
	if f.Size > MaxReadFile {
		return nil, false, fmt.Errorf("%s in branch %q is %d bytes, more than the %d read", name, b.Name, f.Size, MaxReadFile)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxReadFile))
	return data, err == nil, err
}

// Commit writes files (slash-separated paths to contents) on top of the
// branch's head as one commit by author, and moves the local branch to
// it. It returns false, and makes no commit, when the files already hold
// these contents.
func (b *Branch) Commit(files map[string][]byte, message string, author Signature) (bool, error) {
	if len(files) == 0 {
		return false, nil
	}
	var root plumbing.Hash
	if !b.head.IsZero() {
		c, err := b.repo.CommitObject(b.head)
		if err != nil {
			return false, err
		}
		root = c.TreeHash
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	newRoot := root
	for _, name := range names {
		parts, err := splitRepoPath(name)
		if err != nil {
			return false, err
		}
		blob, err := b.storeBlob(files[name])
		if err != nil {
			return false, err
		}
		if newRoot, err = b.putFile(newRoot, "", parts, blob, name); err != nil {
			return false, err
		}
	}
	if newRoot == root && !b.head.IsZero() {
		return false, nil
	}
	if author.When.IsZero() {
		author.When = time.Now()
	}
	sig := object.Signature{Name: author.Name, Email: author.Email, When: author.When}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: newRoot}
	if !b.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{b.head}
	}
	obj := b.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return false, err
	}
	h, err := b.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return false, err
	}
	if err := b.repo.Storer.SetReference(plumbing.NewHashReference(b.ref, h)); err != nil {
		return false, err
	}
	b.head = h
	return true, nil
}

// Push sends the local branch to the remote. It fails without changing
// anything when the remote branch moved since OpenBranch (someone pushed
// meanwhile): open the branch again and redo the commit.
func (b *Branch) Push(ctx context.Context) error {
	if b.head.IsZero() {
		return errors.New("nothing to push: the branch has no commit")
	}
	err := b.repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName:   "origin",
		RefSpecs:     []config.RefSpec{config.RefSpec(b.ref.String() + ":" + b.ref.String())},
		Auth:         b.s.auth,
		CABundle:     b.s.caBundle,
		ClientCert:   b.s.clientCert,
		ClientKey:    b.s.clientKey,
		ProxyOptions: b.s.proxy,
	})
	switch {
	case err == nil, errors.Is(err, gogit.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, gogit.ErrNonFastForwardUpdate) || strings.Contains(err.Error(), "non-fast-forward"):
		return fmt.Errorf("pushing to branch %q of %s: the branch changed on the remote meanwhile; run again to commit on top of it", b.Name, RedactURL(b.url))
	}
	return classify(b.url, err, b.s)
}

func (b *Branch) storeBlob(data []byte) (plumbing.Hash, error) {
	obj := b.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.repo.Storer.SetEncodedObject(obj)
}

// putFile returns the hash of the tree at treeHash (zero for none), the
// directory dir of the repository, with the blob at parts under it, creating the directories on the way. An existing
// entry on the way that is not a directory (a file or a link) is an
// error naming full, never followed.
func (b *Branch) putFile(treeHash plumbing.Hash, dir string, parts []string, blob plumbing.Hash, full string) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := b.repo.TreeObject(treeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, t.Entries...)
	}
	name := parts[0]
	idx := -1
	for i, e := range entries {
		if e.Name == name {
			idx = i
			break
		}
	}
	var entry object.TreeEntry
	if len(parts) == 1 {
		if idx >= 0 && entries[idx].Mode != filemode.Regular && entries[idx].Mode != filemode.Executable && entries[idx].Mode != filemode.Deprecated {
			return plumbing.ZeroHash, fmt.Errorf("cannot write %s: it exists in the repository and is not a regular file", full)
		}
		entry = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blob}
	} else {
		var sub plumbing.Hash
		if idx >= 0 {
			if entries[idx].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("cannot write %s: %s exists in the repository and is not a directory", full, path.Join(dir, name))
			}
			sub = entries[idx].Hash
		}
		h, err := b.putFile(sub, path.Join(dir, name), parts[1:], blob, full)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entry = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	if idx >= 0 {
		if entries[idx] == entry {
			return treeHash, nil
		}
		entries[idx] = entry
	} else {
		entries = append(entries, entry)
	}
	// Git orders entries by name, comparing a directory's as name + "/".
	sortKey := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return sortKey(entries[i]) < sortKey(entries[j]) })
	obj := b.repo.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.repo.Storer.SetEncodedObject(obj)
}

// splitRepoPath checks a path inside a repository: relative, clean, and
// without "..", "." or ".git" elements.
func splitRepoPath(name string) ([]string, error) {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.Contains(name, "\\") {
		return nil, fmt.Errorf("path %q in the repository must be relative and clean, such as clusters/prod/file.yaml", name)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == ".." || p == "." || strings.EqualFold(p, ".git") {
			return nil, fmt.Errorf("path %q in the repository may not hold %q", name, p)
		}
	}
	return parts, nil
}

func validateBranchName(name string) error {
	if name == "" {
		return &InvalidError{Field: "branch", Err: errors.New("must not be empty")}
	}
	if !plumbing.NewBranchReferenceName(name).IsBranch() || strings.ContainsAny(name, " ~^:?*[\\") || strings.Contains(name, "..") ||
		strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") {
		return &InvalidError{Field: "branch", Err: fmt.Errorf("%q is not a valid branch name", name)}
	}
	return nil
}
