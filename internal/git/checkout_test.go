package git

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func TestCheckoutRefKinds(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)
	c1, c2, c3 := f.commits["c1"], f.commits["c2"], f.commits["c3"]

	tests := []struct {
		name        string
		ref         Ref
		wantRev     string
		wantTag     string // name of the annotated tag the checkout went through
		wantShallow bool
		wantFile    string // a file only that commit has, or ""
	}{
		{name: "default branch", ref: Ref{}, wantRev: "main@sha1:" + c2, wantShallow: true},
		{name: "branch", ref: Ref{Branch: "dev"}, wantRev: "dev@sha1:" + c3, wantShallow: true, wantFile: "dev.txt"},
		{name: "lightweight tag", ref: Ref{Tag: "v1.0.0"}, wantRev: "v1.0.0@sha1:" + c1, wantShallow: true},
		{name: "annotated tag", ref: Ref{Tag: "v1.1.0"}, wantRev: "v1.1.0@sha1:" + c2, wantTag: "v1.1.0", wantShallow: true},
		{name: "tag over branch", ref: Ref{Tag: "v1.0.0", Branch: "dev"}, wantRev: "v1.0.0@sha1:" + c1, wantShallow: true},
		{name: "semver highest", ref: Ref{SemVer: ">=1.0.0"}, wantRev: "v1.1.0@sha1:" + c2, wantTag: "v1.1.0", wantShallow: true},
		{name: "semver range", ref: Ref{SemVer: "~1.0"}, wantRev: "v1.0.0@sha1:" + c1, wantShallow: true},
		{name: "semver prerelease", ref: Ref{SemVer: ">=2.0.0-0"}, wantRev: "v2.0.0-rc.1@sha1:" + c2, wantTag: "v2.0.0-rc.1", wantShallow: true},
		{name: "semver over tag", ref: Ref{SemVer: "1.0.x", Tag: "v1.1.0"}, wantRev: "v1.0.0@sha1:" + c1, wantShallow: true},
		{name: "name pull ref", ref: Ref{Name: "refs/pull/1/head"}, wantRev: "refs/pull/1/head@sha1:" + c3, wantShallow: true, wantFile: "dev.txt"},
		{name: "name branch", ref: Ref{Name: "refs/heads/main"}, wantRev: "refs/heads/main@sha1:" + c2, wantShallow: true},
		{name: "name tag", ref: Ref{Name: "refs/tags/v1.1.0"}, wantRev: "refs/tags/v1.1.0@sha1:" + c2, wantTag: "v1.1.0", wantShallow: true},
		{name: "name over semver", ref: Ref{Name: "refs/heads/dev", SemVer: "*"}, wantRev: "refs/heads/dev@sha1:" + c3, wantShallow: true},
		{name: "commit", ref: Ref{Commit: c1}, wantRev: "sha1:" + c1},
		{name: "commit on branch", ref: Ref{Commit: c2, Branch: "dev"}, wantRev: "dev@sha1:" + c2},
		{name: "commit over name", ref: Ref{Commit: c3, Name: "refs/heads/main"}, wantRev: "sha1:" + c3, wantFile: "dev.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := Checkout(ctxT(t), url, dir, Options{Ref: tt.ref})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Revision(); got != tt.wantRev {
				t.Errorf("revision %s, want %s", got, tt.wantRev)
			}
			latest, err := LatestRevision(ctxT(t), url, Options{Ref: tt.ref})
			if err != nil {
				t.Fatal(err)
			}
			if latest != tt.wantRev {
				t.Errorf("LatestRevision %s, want %s", latest, tt.wantRev)
			}
			switch {
			case tt.wantTag == "" && c.ReferencingTag != nil:
				t.Errorf("unexpected referencing tag %s", c.ReferencingTag.Name)
			case tt.wantTag != "" && (c.ReferencingTag == nil || c.ReferencingTag.Name != tt.wantTag):
				t.Errorf("referencing tag %+v, want %s", c.ReferencingTag, tt.wantTag)
			}
			_, err = os.Stat(filepath.Join(dir, ".git", "shallow"))
			if shallow := err == nil; shallow != tt.wantShallow {
				t.Errorf("shallow clone %v, want %v", shallow, tt.wantShallow)
			}
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				t.Errorf("work tree not checked out: %v", err)
			}
			if tt.wantFile != "" {
				if _, err := os.Stat(filepath.Join(dir, tt.wantFile)); err != nil {
					t.Errorf("work tree lacks %s: %v", tt.wantFile, err)
				}
			}
			if c.Author.Name != gitserver.AuthorName || c.Author.Email != gitserver.AuthorEmail {
				t.Errorf("author %+v", c.Author)
			}
		})
	}
}

// With no ref, an old master wins over the branch HEAD points at, as in
// Flux; without master, HEAD's branch is followed (the "default branch"
// case of TestCheckoutRefKinds).
func TestCheckoutWithoutRefFollowsMasterOverHEAD(t *testing.T) {
	f := newFixture(t)
	c1 := f.commits["c1"]
	gitserver.NoErr(t, f.w.Push("origin", c1+":refs/heads/master"))
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)

	c, err := Checkout(ctxT(t), url, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "master@sha1:" + c1
	if got := c.Revision(); got != want {
		t.Errorf("checkout revision %s, want %s (HEAD is %s)", got, want, gitserver.DefaultBranch)
	}
	latest, err := LatestRevision(ctxT(t), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if latest != want {
		t.Errorf("LatestRevision %s, want %s", latest, want)
	}
}

func TestLatestRevisionSeesNewCommitsWithoutFetching(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)
	opts := Options{Ref: Ref{Branch: "main"}}

	c, err := Checkout(ctxT(t), url, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	fetchesBefore := countFetches(srv)
	rev, err := LatestRevision(ctxT(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rev != c.Revision() {
		t.Fatalf("LatestRevision %s differs from the checkout's %s with nothing pushed", rev, c.Revision())
	}
	if got := countFetches(srv); got != fetchesBefore {
		t.Fatalf("LatestRevision fetched objects: %d upload-pack POSTs, want %d", got, fetchesBefore)
	}

	next := gitserver.Must[string](t)(f.w.CommitFiles("fourth", map[string]string{"new.txt": "x"}))
	gitserver.NoErr(t, f.w.Push("origin", "main"))
	rev, err = LatestRevision(ctxT(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "main@sha1:" + next; rev != want {
		t.Fatalf("after a push LatestRevision is %s, want %s", rev, want)
	}
}

func countFetches(s *gitserver.HTTPServer) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, "POST ") && strings.HasSuffix(r, "/git-upload-pack") {
			n++
		}
	}
	return n
}

func TestCheckoutErrors(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)

	notFound := []struct {
		name string
		url  string
		ref  Ref
		what string
	}{
		{name: "missing branch", url: url, ref: Ref{Branch: "nope"}, what: `branch "nope"`},
		{name: "missing tag", url: url, ref: Ref{Tag: "v9.9.9"}, what: `tag "v9.9.9"`},
		{name: "no tag in range", url: url, ref: Ref{SemVer: ">=5.0.0"}, what: `semver range ">=5.0.0"`},
		{name: "missing named ref", url: url, ref: Ref{Name: "refs/pull/9/head"}, what: `ref "refs/pull/9/head"`},
		{name: "missing commit", url: url, ref: Ref{Commit: strings.Repeat("ab", 20)}, what: "commit abab"},
		{name: "commit not on branch", url: url, ref: Ref{Commit: f.commits["c3"], Branch: "main"}, what: `on branch "main"`},
		{name: "missing repository", url: srv.RepoURL("org/missing.git"), ref: Ref{Branch: "main"}, what: "repository"},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Checkout(ctxT(t), tt.url, t.TempDir(), Options{Ref: tt.ref})
			nf := errAs[*NotFoundError](t, err)
			if !strings.Contains(nf.Error(), tt.what) {
				t.Fatalf("message %q does not name %s", nf.Error(), tt.what)
			}
			if tt.ref.Commit == "" {
				_, err = LatestRevision(ctxT(t), tt.url, Options{Ref: tt.ref})
				errAs[*NotFoundError](t, err)
			}
		})
	}

	invalid := []struct {
		name  string
		url   string
		ref   Ref
		field string
	}{
		{name: "invalid range", url: url, ref: Ref{SemVer: "not a range!"}, field: "spec.ref.semver"},
		{name: "short commit", url: url, ref: Ref{Commit: "abc123"}, field: "spec.ref.commit"},
		{name: "name not a ref", url: url, ref: Ref{Name: "main"}, field: "spec.ref.name"},
		{name: "unsupported scheme", url: "file://" + f.root + "/" + repoName, ref: Ref{Branch: "main"}, field: "spec.url"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Checkout(ctxT(t), tt.url, t.TempDir(), Options{Ref: tt.ref})
			if ie := errAs[*InvalidError](t, err); ie.Field != tt.field {
				t.Fatalf("field %q, want %q", ie.Field, tt.field)
			}
			_, err = LatestRevision(ctxT(t), tt.url, Options{Ref: tt.ref})
			errAs[*InvalidError](t, err)
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		closed := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
		u := closed.RepoURL(repoName)
		gitserver.NoErr(t, closed.Close())
		_, err := Checkout(ctxT(t), u, t.TempDir(), Options{Ref: Ref{Branch: "main"}})
		errAs[*UnreachableError](t, err)
		_, err = LatestRevision(ctxT(t), u, Options{})
		errAs[*UnreachableError](t, err)
	})
}

func TestSparseCheckout(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)

	dir := t.TempDir()
	c, err := Checkout(ctxT(t), url, dir, Options{Ref: Ref{Branch: "main"}, SparseCheckout: []string{"./apps/"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != f.commits["c2"] {
		t.Fatalf("checked out %s, want %s", c.Hash, f.commits["c2"])
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{"apps/web/deploy.yaml"}) {
		t.Fatalf("sparse work tree holds %v, want only apps/web/deploy.yaml", files)
	}

	_, err = Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, SparseCheckout: []string{"missing"}})
	errAs[*NotFoundError](t, err)
	_, err = Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, SparseCheckout: []string{"../etc"}})
	errAs[*InvalidError](t, err)
}

func TestSubmodules(t *testing.T) {
	root := t.TempDir()
	must := gitserver.Must[string](t)
	leaf := gitserver.MustSeed(t, root, "org/leaf.git", map[string]string{"leaf.txt": "leaf\n"})
	mid := gitserver.MustSeed(t, root, "org/mid.git", map[string]string{"mid.txt": "mid\n"})
	top := gitserver.MustSeed(t, root, "org/top.git", map[string]string{"top.txt": "top\n"})
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{Username: "u", Password: "p4ss"})
	auth, err := AuthFromSecret(map[string][]byte{"username": []byte("u"), "password": []byte("p4ss")})
	if err != nil {
		t.Fatal(err)
	}

	// mid includes leaf by a relative URL, top includes mid by an
	// absolute one: both must be fetched with the same credentials.
	gitserver.NoErr(t, mid.AddSubmodule(filepath.Join(root, "org/leaf.git"), "vendor/leaf"))
	gitserver.NoErr(t, mid.WriteFile(".gitmodules", "[submodule \"vendor/leaf\"]\n\tpath = vendor/leaf\n\turl = ../leaf.git\n"))
	must(mid.Commit("add leaf"))
	gitserver.NoErr(t, mid.Push("origin", "main"))
	gitserver.NoErr(t, top.AddSubmodule(filepath.Join(root, "org/mid.git"), "deps/mid"))
	gitserver.NoErr(t, top.WriteFile(".gitmodules", "[submodule \"deps/mid\"]\n\tpath = deps/mid\n\turl = "+srv.RepoURL("org/mid.git")+"\n"))
	must(top.Commit("add mid"))
	gitserver.NoErr(t, top.Push("origin", "main"))
	_ = leaf

	url := srv.RepoURL("org/top.git")
	dir := t.TempDir()
	if _, err := Checkout(ctxT(t), url, dir, Options{Ref: Ref{Branch: "main"}, Auth: auth, RecurseSubmodules: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"top.txt", "deps/mid/mid.txt", "deps/mid/vendor/leaf/leaf.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("submodule file %s missing: %v", f, err)
		}
	}

	plain := t.TempDir()
	if _, err := Checkout(ctxT(t), url, plain, Options{Ref: Ref{Branch: "main"}, Auth: auth}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plain, "deps/mid/mid.txt")); err == nil {
		t.Error("submodule checked out without RecurseSubmodules")
	}
}

// A link out of the repository does not stop the checkout: it is left out
// of the work tree and reported, with both ways of checking out (the
// export, and go-git's work tree for submodules). A link that stays inside
// is checked out as a link.
func TestCheckoutLeavesOutLinksOut(t *testing.T) {
	srv := gitserver.StartHTTP(t, t.TempDir(), gitserver.HTTPOptions{})
	for _, tc := range []struct {
		name, target string
		outside      bool
	}{
		{"abs", "/etc/passwd", true},
		{"up", "../../etc/passwd", true},
		{"inside", "../deploy/app.yaml", false},
	} {
		w := gitserver.MustSeed(t, srv.Root, tc.name+".git", map[string]string{"deploy/app.yaml": "a: 1\n"})
		gitserver.NoErr(t, os.MkdirAll(filepath.Join(w.Dir, "tools"), 0o755))
		gitserver.NoErr(t, os.Symlink(tc.target, filepath.Join(w.Dir, "tools", "link")))
		gitserver.Must[string](t)(w.Commit("link"))
		gitserver.NoErr(t, w.Push("origin", gitserver.DefaultBranch))
		for _, submodules := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/submodules=%v", tc.name, submodules), func(t *testing.T) {
				dir := t.TempDir()
				c, err := Checkout(ctxT(t), srv.RepoURL(tc.name+".git"), dir, Options{RecurseSubmodules: submodules})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dir, "deploy", "app.yaml")); err != nil {
					t.Errorf("the rest of the tree is missing: %v", err)
				}
				got, err := os.Readlink(filepath.Join(dir, "tools", "link"))
				if !tc.outside {
					if err != nil || got != tc.target || len(c.OutsideLinks) != 0 {
						t.Errorf("inside link = %q, %v; reported outside: %v", got, err, c.OutsideLinks)
					}
					return
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("link out of the repository was written: %q, %v", got, err)
				}
				want := []OutsideLink{{Path: "tools/link", Target: tc.target}}
				if !slices.Equal(c.OutsideLinks, want) {
					t.Errorf("OutsideLinks = %v, want %v", c.OutsideLinks, want)
				}
			})
		}
	}
}
