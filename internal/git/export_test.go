package git

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// A checkout leaves the same tree as `git clone`: the same files with the
// same content and executable bits, directories, and links.
func TestCheckoutMatchesGit(t *testing.T) {
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, repoName, map[string]string{
		"README.md":              "# app\n",
		"empty.txt":              "",
		"name with spaces.yaml":  "a: 1\n",
		"deep/a/b/c/d.yaml":      "d: 1\n",
		"bin/run.sh":             "#!/bin/sh\necho hi\n",
		"docs/ünïcode-名前.md":     "名前\n",
		"apps/web/deploy.yaml":   "kind: Deployment\n",
		"apps/web/values/x.yaml": "x: 1\n",
	})
	// Above largeObject, blobs are streamed from the pack.
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 3<<20/17)
	gitserver.NoErr(t, os.WriteFile(filepath.Join(w.Dir, "big.txt"), big, 0o644))
	gitserver.NoErr(t, os.Chmod(filepath.Join(w.Dir, "bin/run.sh"), 0o755))
	gitserver.NoErr(t, os.Symlink("../apps/web/deploy.yaml", filepath.Join(w.Dir, "deep/link.yaml")))
	gitserver.NoErr(t, os.Symlink("apps", filepath.Join(w.Dir, "dir-link")))
	gitserver.Must[string](t)(w.Commit("more"))
	gitserver.NoErr(t, w.Push("origin", gitserver.DefaultBranch))
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})

	ours := t.TempDir()
	if _, err := Checkout(ctxT(t), srv.RepoURL(repoName), ours, Options{}); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(t.TempDir(), "clone")
	cmd := exec.Command("git", "clone", "--quiet", "--depth", "1", srv.RepoURL(repoName), theirs)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	if diff := cmp.Diff(describeTree(t, theirs), describeTree(t, ours)); diff != "" {
		t.Errorf("checkout differs from git clone (-git +ours):\n%s", diff)
	}
}

// describeTree lists every entry below dir, except .git, with its kind,
// executable bit, and content or link target.
func describeTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out = append(out, rel+"/")
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, rel+" -> "+target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			exec := ""
			if info.Mode().Perm()&0o100 != 0 {
				exec = " (executable)"
			}
			out = append(out, rel+exec+": "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// A tree entry that Git would refuse to check out (".git", "..") fails the
// checkout with an *UnsafePathError naming it, and nothing is written
// outside the directory.
func TestCheckoutRefusesUnsafeNames(t *testing.T) {
	for _, tc := range []struct {
		name, entry, mode string
	}{
		{"dot-git directory", ".git", "40000"},
		{"upper-case dot-git", ".GIT", "40000"},
		{"dot-dot file", "..", "100644"},
		{"dot-dot directory", "..", "40000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			w := gitserver.MustSeed(t, root, repoName, map[string]string{"ok.yaml": "a: 1\n"})
			must := gitserver.Must[string](t)
			blob := must(w.Git("hash-object", "-w", "ok.yaml"))
			inner := mktree(t, w, "100644", "config", blob)
			target := blob
			if tc.mode == "40000" {
				target = inner
			}
			top := mktree(t, w, tc.mode, tc.entry, target)
			commit := must(w.Git("commit-tree", top, "-m", "unsafe"))
			gitserver.NoErr(t, w.Push("origin", commit+":refs/heads/evil"))
			srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})

			parent := t.TempDir()
			dir := filepath.Join(parent, "checkout")
			gitserver.NoErr(t, os.Mkdir(dir, 0o755))
			_, err := Checkout(ctxT(t), srv.RepoURL(repoName), dir, Options{Ref: Ref{Branch: "evil"}})
			e := errAs[*UnsafePathError](t, err)
			if e.Path != tc.entry || e.Commit != commit {
				t.Errorf("error names %q in %s, want %q in %s", e.Path, e.Commit, tc.entry, commit)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 {
				t.Errorf("the checkout wrote next to its directory: %v", entries)
			}
		})
	}
}

// mktree writes a tree object with one entry (Git's own mktree checks
// nothing either) and returns its hash.
func mktree(t *testing.T, w *gitserver.WorkTree, mode, name, hash string) string {
	t.Helper()
	raw, err := hex.DecodeString(hash)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(mode + " " + name + "\x00")
	b.Write(raw)
	f := filepath.Join(t.TempDir(), "tree")
	gitserver.NoErr(t, os.WriteFile(f, b.Bytes(), 0o644))
	return gitserver.Must[string](t)(w.Git("hash-object", "-t", "tree", "--literally", "-w", f))
}
