package git

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

var author = Signature{Name: "gotk", Email: "gotk@localhost"}

// clonedFile reads a file from a fresh `git clone` of the branch, so that
// what the test checks is what the real git sees on the server.
func clonedFile(t *testing.T, bare, branch, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	w := gitserver.Must[*gitserver.WorkTree](t)(gitserver.CloneWorkTree(bare, dir))
	gitserver.NoErr(t, w.Switch(branch))
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("the pushed branch %s lacks %s: %v", branch, name, err)
	}
	return string(data)
}

// An empty repository gets its first branch; a second run with the same
// files makes no commit; a change makes one commit on top; a push from a
// stale branch is refused and changes nothing.
func TestBranchCommitAndPushHTTP(t *testing.T) {
	root := t.TempDir()
	bare := gitserver.Must[string](t)(gitserver.InitBare(root, "fleet.git"))
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{Username: "alice", Password: "s3cret-pw"})
	url := srv.RepoURL("fleet.git")
	auth, err := AuthFromSecret(map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret-pw")})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"clusters/dev/gotk-system/a.yaml": []byte("a: 1\n"),
		"clusters/dev/gotk-system/b.yaml": []byte("b: 1\n"),
	}

	b, err := OpenBranch(ctxT(t), url, t.TempDir(), "main", auth)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.New || b.Revision() != "" {
		t.Fatalf("an empty repository must open as a new branch, got New=%v revision %q", b.New, b.Revision())
	}
	changed, err := b.Commit(files, "first", author)
	if err != nil || !changed {
		t.Fatalf("first commit: changed=%v err=%v", changed, err)
	}
	if err := b.Push(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	first := b.Revision()
	if got := clonedFile(t, bare, "main", "clusters/dev/gotk-system/b.yaml"); got != "b: 1\n" {
		t.Fatalf("pushed content = %q", got)
	}

	// Same files again: nothing to commit.
	b2, err := OpenBranch(ctxT(t), url, t.TempDir(), "main", auth)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if b2.New || b2.Revision() != first {
		t.Fatalf("reopened branch: New=%v revision %q, want %q", b2.New, b2.Revision(), first)
	}
	if data, ok, err := b2.ReadFile("clusters/dev/gotk-system/a.yaml"); err != nil || !ok || string(data) != "a: 1\n" {
		t.Fatalf("ReadFile = %q, %v, %v", data, ok, err)
	}
	if _, ok, err := b2.ReadFile("clusters/dev/absent.yaml"); err != nil || ok {
		t.Fatalf("ReadFile of an absent file = %v, %v", ok, err)
	}
	if changed, err := b2.Commit(files, "again", author); err != nil || changed {
		t.Fatalf("unchanged files must not commit: changed=%v err=%v", changed, err)
	}

	// A change, pushed from b2, while b3 was opened before it.
	b3, err := OpenBranch(ctxT(t), url, t.TempDir(), "main", auth)
	if err != nil {
		t.Fatal(err)
	}
	defer b3.Close()
	if changed, err := b2.Commit(map[string][]byte{"clusters/dev/gotk-system/a.yaml": []byte("a: 2\n")}, "second", author); err != nil || !changed {
		t.Fatalf("second commit: changed=%v err=%v", changed, err)
	}
	gitserver.NoErr(t, b2.Push(ctxT(t)))
	if got := clonedFile(t, bare, "main", "clusters/dev/gotk-system/a.yaml"); got != "a: 2\n" {
		t.Fatalf("after the second push a.yaml = %q", got)
	}
	if got := clonedFile(t, bare, "main", "clusters/dev/gotk-system/b.yaml"); got != "b: 1\n" {
		t.Fatalf("the second commit lost b.yaml: %q", got)
	}

	if _, err := b3.Commit(map[string][]byte{"other.yaml": []byte("x\n")}, "stale", author); err != nil {
		t.Fatal(err)
	}
	err = b3.Push(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "changed on the remote meanwhile") {
		t.Fatalf("a stale push must be refused with a hint, got %v", err)
	}
	if got := clonedFile(t, bare, "main", "clusters/dev/gotk-system/a.yaml"); got != "a: 2\n" {
		t.Fatalf("the refused push changed the branch: a.yaml = %q", got)
	}

	// Wrong credentials: an AuthError without the password.
	bad, _ := AuthFromSecret(map[string][]byte{"username": []byte("alice"), "password": []byte("wrong-pw-123")})
	_, err = OpenBranch(ctxT(t), url, t.TempDir(), "main", bad)
	errAs[*AuthError](t, err)
	noSecret(t, err, "wrong-pw-123")
}

// A new branch in a repository that has others starts without a parent;
// paths that would leave the tree, or go through a file or a link, are
// refused before anything is written.
func TestBranchPathsAndNewBranchSSH(t *testing.T) {
	f := newFixture(t)
	key := gitserver.Must[*gitserver.SSHKey](t)(gitserver.NewSSHKey(t.TempDir()))
	srv := gitserver.StartSSH(t, f.root, gitserver.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	auth, err := AuthFromSecret(map[string][]byte{"identity": key.PrivatePEM, "known_hosts": srv.KnownHosts()})
	if err != nil {
		t.Fatal(err)
	}
	// A link in the repository, pointing out of it.
	gitserver.NoErr(t, os.Symlink("/etc", filepath.Join(f.w.Dir, "etc-link")))
	gitserver.Must[string](t)(f.w.Commit("add a link"))
	gitserver.NoErr(t, f.w.Push("origin", gitserver.DefaultBranch))

	url := srv.RepoURL(repoName)
	b, err := OpenBranch(ctxT(t), url, t.TempDir(), gitserver.DefaultBranch, auth)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for name, want := range map[string]string{
		"../x.yaml":           `may not hold ".."`,
		"/abs.yaml":           "must be relative and clean",
		"a/./b.yaml":          "must be relative and clean",
		".git/config":         `may not hold ".git"`,
		"etc-link/passwd":     "etc-link exists in the repository and is not a directory",
		"README.md/child":     "README.md exists in the repository and is not a directory",
		"apps/web":            "is not a regular file",
		"infra/ns.yaml/x.yml": "infra/ns.yaml exists in the repository and is not a directory",
	} {
		_, err := b.Commit(map[string][]byte{name: []byte("x")}, "bad", author)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Commit(%q) = %v, want an error with %q", name, err, want)
		}
	}
	if _, _, err := b.ReadFile("../outside"); err == nil {
		t.Error("ReadFile accepted ../outside")
	}

	nb, err := OpenBranch(ctxT(t), url, t.TempDir(), "fleet", auth)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	if !nb.New {
		t.Fatal("a branch the remote lacks must open as New")
	}
	if _, err := nb.Commit(map[string][]byte{"clusters/prod/k.yaml": []byte("k: v\n")}, "start fleet", author); err != nil {
		t.Fatal(err)
	}
	gitserver.NoErr(t, nb.Push(ctxT(t)))
	bare := filepath.Join(f.root, repoName)
	if got := clonedFile(t, bare, "fleet", "clusters/prod/k.yaml"); got != "k: v\n" {
		t.Fatalf("new branch content = %q", got)
	}

	if _, err := OpenBranch(ctxT(t), url, t.TempDir(), "bad..name", auth); err == nil {
		t.Fatal("an invalid branch name was accepted")
	}
}
