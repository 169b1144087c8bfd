package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxSubmoduleDepth bounds submodule recursion (a submodule of a
// submodule ...), which a repository could otherwise make endless.
const maxSubmoduleDepth = 10

// Checkout fetches the repository at url into dir (a new or empty
// directory) and checks out the commit o.Ref selects: a Commit, else a
// Name, else the highest tag in a SemVer range, else a Tag, else a Branch,
// else master, else the branch the remote's HEAD points at. Branch, tag, semver and name refs are
// fetched at depth 1 unless o.FullHistory is set; a commit is looked for
// in the full history of its Branch, or of every branch and tag.
//
// Symbolic links that point out of the repository are not written; the
// Commit lists them in OutsideLinks. Nothing outside dir is read or
// written.
//
// Failures are *AuthError, *NotFoundError, *UnreachableError or
// *InvalidError where they fit; no message carries a secret.
func Checkout(ctx context.Context, url, dir string, o Options) (*Commit, error) {
	if err := validateRef(o.Ref); err != nil {
		return nil, err
	}
	s, err := newSession(url, o)
	if err != nil {
		return nil, err
	}
	dirs, err := sparseDirs(o.SparseCheckout)
	if err != nil {
		return nil, err
	}
	ref := o.Ref
	var (
		t        target
		refspecs []config.RefSpec
		depth    int
	)
	if ref.Commit != "" {
		if ref.Branch != "" {
			t = branchTarget(ref.Branch)
			refspecs = []config.RefSpec{refspec(t.name)}
		} else {
			refspecs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
		}
	} else {
		var refs remoteRefs
		if ref.Name == "" && (ref.SemVer != "" || (ref.Tag == "" && ref.Branch == "")) {
			if refs, err = listRefs(ctx, s); err != nil {
				return nil, err
			}
		}
		if t, err = resolveTarget(s, ref, refs); err != nil {
			return nil, err
		}
		refspecs = []config.RefSpec{refspec(t.name)}
		if !o.FullHistory {
			depth = 1
		}
	}

	repo, closeRepo, err := initRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("creating a repository in %s: %w", dir, err)
	}
	defer closeRepo()
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}, Fetch: refspecs}); err != nil {
		return nil, err
	}
	if err := fetch(ctx, s, repo, refspecs, depth); err != nil {
		var nm gogit.NoMatchingRefSpecError
		if errors.As(err, &nm) && t.what != "" {
			return nil, &NotFoundError{URL: RedactURL(url), What: t.what}
		}
		return nil, err
	}

	var (
		commit *object.Commit
		tag    *object.Tag
	)
	if ref.Commit != "" {
		commit, err = repo.CommitObject(plumbing.NewHash(strings.ToLower(ref.Commit)))
		if err != nil {
			what := fmt.Sprintf("commit %s", ref.Commit)
			if ref.Branch != "" {
				what += fmt.Sprintf(" on branch %q", ref.Branch)
			}
			return nil, &NotFoundError{URL: RedactURL(url), What: what}
		}
	} else {
		local, err := repo.Reference(t.name, false)
		if err != nil {
			return nil, &NotFoundError{URL: RedactURL(url), What: t.what}
		}
		if commit, tag, err = peel(repo, local.Hash()); err != nil {
			return nil, fmt.Errorf("resolving %s: %w", t.what, err)
		}
	}

	if err := checkSparseDirs(commit, dirs, url); err != nil {
		return nil, err
	}
	// Entries Git itself would not check out fail the checkout; links
	// out of the repository are left out of the work tree (go-git would
	// even rewrite an absolute one into it) and reported.
	outside, err := checkTree(commit)
	if err != nil {
		return nil, err
	}
	outside = slices.DeleteFunc(outside, func(l OutsideLink) bool { return !wantedPath(dirs, l.Path, false) })
	skip := make(map[string]bool, len(outside))
	for _, l := range outside {
		skip[l.Path] = true
	}
	if o.RecurseSubmodules {
		// Submodules need go-git's work tree and index: check out the
		// slow way.
		w, err := repo.Worktree()
		if err != nil {
			return nil, err
		}
		co := &gogit.CheckoutOptions{Force: true, SparseCheckoutDirectories: dirs}
		if ref.Commit == "" && t.name.IsBranch() {
			co.Branch = t.name
		} else {
			co.Hash = commit.Hash
		}
		if err := w.Checkout(co); err != nil {
			return nil, fmt.Errorf("checking out %s: %w", commit.Hash, err)
		}
		for _, l := range outside {
			p := filepath.Join(dir, filepath.FromSlash(l.Path))
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				if err := os.Remove(p); err != nil {
					return nil, fmt.Errorf("leaving out link %s: %w", l.Path, err)
				}
			}
		}
		if err := updateSubmodules(ctx, repo, o, maxSubmoduleDepth); err != nil {
			return nil, err
		}
	} else if err := exportTree(repo.Storer, commit, dir, dirs, skip); err != nil {
		var unsafe *UnsafePathError
		if errors.As(err, &unsafe) {
			return nil, err
		}
		return nil, fmt.Errorf("checking out %s: %w", commit.Hash, err)
	}

	rev := t.rev
	if ref.Commit != "" {
		rev = ref.Branch
	}
	c, err := buildCommit(commit, rev)
	if err != nil {
		return nil, err
	}
	if tag != nil {
		if c.ReferencingTag, err = buildTag(tag); err != nil {
			return nil, err
		}
	}
	c.OutsideLinks = outside
	return c, nil
}

// objectCacheSize bounds the decoded objects kept in memory during a
// checkout: trees and delta bases are read again from the pack rather
// than kept for the whole checkout.
const objectCacheSize = 4 * cache.MiByte

// largeObject is the size above which a blob is streamed from the pack
// rather than read into memory whole.
const largeObject = 1 << 20

// initRepo creates a repository in dir whose storage keeps its pack files
// open (go-git otherwise reopens the pack for every object it reads) and
// streams large blobs. Call the returned function to close the packs.
func initRepo(dir string) (*gogit.Repository, func(), error) {
	wt := osfs.New(dir)
	dot, err := wt.Chroot(gogit.GitDirName)
	if err != nil {
		return nil, nil, err
	}
	st := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRU(objectCacheSize), filesystem.Options{
		ExclusiveAccess:      true,
		KeepDescriptors:      true,
		LargeObjectThreshold: largeObject,
	})
	repo, err := gogit.Init(st, wt)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return repo, func() { _ = st.Close() }, nil
}

func refspec(name plumbing.ReferenceName) config.RefSpec {
	return config.RefSpec("+" + name.String() + ":" + name.String())
}

func fetch(ctx context.Context, s *session, repo *gogit.Repository, refspecs []config.RefSpec, depth int) error {
	err := repo.FetchContext(ctx, &gogit.FetchOptions{
		RemoteName:   "origin",
		RefSpecs:     refspecs,
		Depth:        depth,
		Auth:         s.auth,
		CABundle:     s.caBundle,
		ClientCert:   s.clientCert,
		ClientKey:    s.clientKey,
		ProxyOptions: s.proxy,
		Tags:         gogit.NoTags,
		Force:        true,
	})
	if err == nil || errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	var nm gogit.NoMatchingRefSpecError
	if errors.As(err, &nm) {
		return err
	}
	return classify(s.url, err, s)
}

// peel follows annotated tags from h to the commit, returning the first
// tag on the way (nil for a commit).
func peel(repo *gogit.Repository, h plumbing.Hash) (*object.Commit, *object.Tag, error) {
	var first *object.Tag
	for range 10 {
		obj, err := repo.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, nil, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, first, nil
		case *object.Tag:
			if first == nil {
				first = o
			}
			h = o.Target
		default:
			return nil, nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, nil, fmt.Errorf("%s: too many nested tags", h)
}

// sparseDirs cleans the sparse-checkout directories; a root entry means
// the whole tree.
func sparseDirs(in []string) ([]string, error) {
	var out []string
	for _, d := range in {
		d = strings.TrimSpace(d)
		for _, part := range strings.Split(d, "/") {
			if part == ".." {
				return nil, &InvalidError{Field: "spec.sparseCheckout", Err: fmt.Errorf("%q leaves the repository", d)}
			}
		}
		c := strings.TrimPrefix(path.Clean("/"+d), "/")
		if c == "" {
			return nil, nil
		}
		out = append(out, c)
	}
	return out, nil
}

func checkSparseDirs(c *object.Commit, dirs []string, url string) error {
	if len(dirs) == 0 {
		return nil
	}
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if _, err := tree.Tree(d); err != nil {
			return &NotFoundError{URL: RedactURL(url), What: fmt.Sprintf("sparse checkout directory %q at commit %s", d, c.Hash)}
		}
	}
	return nil
}

// updateSubmodules checks out every submodule at the commit the parent
// records, fetching with the parent's credentials and TLS and proxy
// settings; URLs other than http(s) and ssh are refused.
func updateSubmodules(ctx context.Context, repo *gogit.Repository, o Options, depth int) error {
	if depth == 0 {
		return errors.New("submodules nest too deeply")
	}
	w, err := repo.Worktree()
	if err != nil {
		return err
	}
	subs, err := w.Submodules()
	if err != nil {
		return fmt.Errorf("reading .gitmodules: %w", err)
	}
	for _, sub := range subs {
		name := sub.Config().Name
		if err := sub.Init(); err != nil && !errors.Is(err, gogit.ErrSubmoduleAlreadyInitialized) {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		status, err := sub.Status()
		if err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		r, err := sub.Repository()
		if err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		rem, err := r.Remote("origin")
		if err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		subURL := rem.Config().URLs[0]
		s, err := newSession(subURL, o)
		if err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		refspecs := []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
		if err := fetch(ctx, s, r, refspecs, 0); err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
		sw, err := r.Worktree()
		if err != nil {
			return err
		}
		if err := sw.Checkout(&gogit.CheckoutOptions{Hash: status.Expected, Force: true}); err != nil {
			return fmt.Errorf("submodule %q: checking out %s: %w", name, status.Expected, err)
		}
		if err := updateSubmodules(ctx, r, o, depth-1); err != nil {
			return fmt.Errorf("submodule %q: %w", name, err)
		}
	}
	return nil
}

func buildCommit(c *object.Commit, rev string) (*Commit, error) {
	var enc plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&enc); err != nil {
		return nil, fmt.Errorf("encoding commit %s: %w", c.Hash, err)
	}
	b, err := readObject(&enc)
	if err != nil {
		return nil, err
	}
	return &Commit{
		Hash:      c.Hash.String(),
		Ref:       rev,
		Author:    signature(c.Author),
		Committer: signature(c.Committer),
		Message:   c.Message,
		Signature: c.PGPSignature,
		Encoded:   b,
	}, nil
}

func buildTag(t *object.Tag) (*Tag, error) {
	var enc plumbing.MemoryObject
	if err := t.EncodeWithoutSignature(&enc); err != nil {
		return nil, fmt.Errorf("encoding tag %s: %w", t.Name, err)
	}
	b, err := readObject(&enc)
	if err != nil {
		return nil, err
	}
	return &Tag{
		Hash:      t.Hash.String(),
		Name:      t.Name,
		Target:    t.Target.String(),
		Tagger:    signature(t.Tagger),
		Message:   t.Message,
		Signature: t.PGPSignature,
		Encoded:   b,
	}, nil
}

func readObject(o *plumbing.MemoryObject) ([]byte, error) {
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func signature(s object.Signature) Signature {
	return Signature{Name: s.Name, Email: s.Email, When: s.When}
}
