package gitserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The identity and clock every commit and tag made here carries, so that
// the same steps make the same commits.
const (
	// AuthorName is the author and committer name of every commit.
	AuthorName = "Gotk Test"
	// AuthorEmail is the author and committer e-mail of every commit.
	AuthorEmail = "test@gotk.invalid"
	// Epoch is the Unix time of the first commit; each later commit or
	// tag in the same work tree is a minute later.
	Epoch = 1700000000
	// DefaultBranch is the initial branch of repositories made here.
	DefaultBranch = "main"
)

// InitBare creates an empty bare repository at root/name (such as
// "org/app.git") whose HEAD points at DefaultBranch, and returns its path.
func InitBare(root, name string) (string, error) {
	dir, err := confined(root, name)
	if err != nil {
		return "", err
	}
	if _, err := run(root, isolatedEnv(), nil, "git", "init", "--quiet", "--bare",
		"--initial-branch="+DefaultBranch, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// WorkTree is a non-bare repository that tests commit to and push from.
type WorkTree struct {
	// Dir is the work tree's directory.
	Dir string

	tick   int
	signer Signer
}

// Signer signs commits and tags made in a WorkTree; *OpenPGPKey and
// *SSHSigningKey are the two kinds.
type Signer interface {
	// gitConfig returns the -c options that make git sign with the key.
	gitConfig() []string
	// env returns the extra environment the signing program needs.
	env() []string
}

// NewWorkTree initialises an empty repository in dir (created if needed)
// on DefaultBranch.
func NewWorkTree(dir string) (*WorkTree, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &WorkTree{Dir: dir}
	if _, err := w.Git("init", "--quiet", "--initial-branch="+DefaultBranch); err != nil {
		return nil, err
	}
	return w, nil
}

// CloneWorkTree clones src (a path or URL) into dir.
func CloneWorkTree(src, dir string) (*WorkTree, error) {
	if _, err := run(filepath.Dir(dir), isolatedEnv(), nil, "git", "clone", "--quiet", src, dir); err != nil {
		return nil, err
	}
	return &WorkTree{Dir: dir}, nil
}

// SignWith makes later commits and annotated tags signed with s; nil
// stops signing.
func (w *WorkTree) SignWith(s Signer) { w.signer = s }

// Git runs git in the work tree with the fixed identity and clock and
// returns its trimmed standard output.
func (w *WorkTree) Git(args ...string) (string, error) {
	date := fmt.Sprintf("@%d +0000", Epoch+60*w.tick)
	env := isolatedEnv(
		"GIT_AUTHOR_NAME="+AuthorName, "GIT_AUTHOR_EMAIL="+AuthorEmail, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+AuthorName, "GIT_COMMITTER_EMAIL="+AuthorEmail, "GIT_COMMITTER_DATE="+date,
	)
	pre := []string{"-c", "protocol.file.allow=always", "-c", "init.defaultBranch=" + DefaultBranch}
	if w.signer != nil {
		env = append(env, w.signer.env()...)
		for _, kv := range w.signer.gitConfig() {
			pre = append(pre, "-c", kv)
		}
	}
	return run(w.Dir, env, nil, "git", append(pre, args...)...)
}

// WriteFile writes content to the file at name (slash-separated, inside
// the work tree), creating parent directories.
func (w *WorkTree) WriteFile(name, content string) error {
	p, err := confined(w.Dir, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// WriteFiles writes several files; see WriteFile.
func (w *WorkTree) WriteFiles(files map[string]string) error {
	for name, content := range files {
		if err := w.WriteFile(name, content); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the file or directory at name.
func (w *WorkTree) Remove(name string) error {
	p, err := confined(w.Dir, name)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// Commit stages every change and commits it (signed when a signer is
// set), then returns the new commit's hash.
func (w *WorkTree) Commit(message string) (string, error) {
	w.tick++
	if _, err := w.Git("add", "--all"); err != nil {
		return "", err
	}
	args := []string{"commit", "--quiet", "--allow-empty", "--message", message}
	if w.signer != nil {
		args = append(args, "--gpg-sign")
	} else {
		args = append(args, "--no-gpg-sign")
	}
	if _, err := w.Git(args...); err != nil {
		return "", err
	}
	return w.Head()
}

// CommitFiles writes the files and commits them; see Commit.
func (w *WorkTree) CommitFiles(message string, files map[string]string) (string, error) {
	if err := w.WriteFiles(files); err != nil {
		return "", err
	}
	return w.Commit(message)
}

// Head returns the hash of the commit HEAD points at.
func (w *WorkTree) Head() (string, error) { return w.RevParse("HEAD") }

// RevParse resolves a revision (a ref, "HEAD~1", "v1.0.0^{}") to a hash.
func (w *WorkTree) RevParse(rev string) (string, error) {
	return w.Git("rev-parse", "--verify", "--quiet", rev)
}

// Tag creates a lightweight tag at HEAD.
func (w *WorkTree) Tag(name string) error {
	_, err := w.Git("tag", name)
	return err
}

// AnnotatedTag creates an annotated tag at HEAD (signed when a signer is
// set) and returns the hash of the tag object.
func (w *WorkTree) AnnotatedTag(name, message string) (string, error) {
	w.tick++
	args := []string{"tag", "--annotate", "--message", message, name}
	if w.signer != nil {
		args = []string{"tag", "--sign", "--message", message, name}
	}
	if _, err := w.Git(args...); err != nil {
		return "", err
	}
	return w.RevParse("refs/tags/" + name)
}

// Branch creates a branch at HEAD and switches to it.
func (w *WorkTree) Branch(name string) error {
	_, err := w.Git("switch", "--quiet", "--create", name)
	return err
}

// Switch switches to an existing branch.
func (w *WorkTree) Switch(name string) error {
	_, err := w.Git("switch", "--quiet", name)
	return err
}

// AddRemote adds a remote.
func (w *WorkTree) AddRemote(name, url string) error {
	_, err := w.Git("remote", "add", name, url)
	return err
}

// Push pushes refspecs ("main", "v1.0.0", "+HEAD:refs/pull/1/head") to
// remote, a remote name, a path or a URL. With no refspec it pushes every
// branch and tag.
func (w *WorkTree) Push(remote string, refspecs ...string) error {
	args := []string{"push", "--quiet", remote}
	if len(refspecs) == 0 {
		args = append(args, "--all")
		if _, err := w.Git(args...); err != nil {
			return err
		}
		_, err := w.Git("push", "--quiet", "--tags", remote)
		return err
	}
	_, err := w.Git(append(args, refspecs...)...)
	return err
}

// AddSubmodule adds the repository at url as a submodule at path and
// stages it; commit afterwards.
func (w *WorkTree) AddSubmodule(url, path string) error {
	_, err := w.Git("submodule", "--quiet", "add", url, path)
	return err
}

// Seed makes a bare repository root/name holding one commit with the files
// on DefaultBranch, using a scratch work tree under scratch; it returns
// the work tree (whose "origin" is the bare repository) for more commits.
func Seed(root, name, scratch string, files map[string]string) (*WorkTree, error) {
	bare, err := InitBare(root, name)
	if err != nil {
		return nil, err
	}
	w, err := NewWorkTree(filepath.Join(scratch, strings.ReplaceAll(strings.Trim(name, "/"), "/", "_")+".work"))
	if err != nil {
		return nil, err
	}
	if err := w.AddRemote("origin", bare); err != nil {
		return nil, err
	}
	if _, err := w.CommitFiles("initial commit", files); err != nil {
		return nil, err
	}
	if err := w.Push("origin", DefaultBranch); err != nil {
		return nil, err
	}
	return w, nil
}

// MustSeed is Seed for a test: it fails the test on error.
func MustSeed(t testing.TB, root, name string, files map[string]string) *WorkTree {
	t.Helper()
	SkipShort(t)
	w, err := Seed(root, name, t.TempDir(), files)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Must fails the test when err is not nil and returns v otherwise:
// head := gitserver.Must[string](t)(w.Commit("change")).
func Must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// NoErr fails the test when err is not nil.
func NoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// confined joins a slash-separated relative name to root and refuses names
// that would leave it.
func confined(root, name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q must stay inside %s", name, root)
	}
	return filepath.Join(root, clean), nil
}

// SkipShort skips t in the unit tier (go test -short): the Git servers and
// repositories of this package run the git, gpg and ssh-keygen programs,
// which that tier does without. MustSeed, StartHTTP, StartSSH and
// NewOpenPGPKeyT call it.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real Git servers and the git program, which go test -short does not")
	}
}
