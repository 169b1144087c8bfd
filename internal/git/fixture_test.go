package git

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// fixture is a repository served from root with known commits:
//
//	main:  c1 (tag v1.0.0, lightweight) - c2 (tag v1.1.0, annotated; tag v2.0.0-rc.1)
//	dev:   c2 - c3 (also refs/pull/1/head)
type fixture struct {
	root    string
	w       *gitserver.WorkTree
	commits map[string]string
}

const repoName = "org/app.git"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	must := gitserver.Must[string](t)
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, repoName, map[string]string{
		"README.md":            "app\n",
		"apps/web/deploy.yaml": "kind: Deployment\n",
		"infra/ns.yaml":        "kind: Namespace\n",
	})
	f := &fixture{root: root, w: w, commits: map[string]string{}}
	f.commits["c1"] = must(w.Head())
	gitserver.NoErr(t, w.Tag("v1.0.0"))
	gitserver.NoErr(t, w.Tag("not-a-version"))
	f.commits["c2"] = must(w.CommitFiles("second", map[string]string{"apps/web/deploy.yaml": "kind: Deployment\nv: 2\n"}))
	must(w.AnnotatedTag("v1.1.0", "release 1.1.0"))
	must(w.AnnotatedTag("v2.0.0-rc.1", "release candidate"))
	gitserver.NoErr(t, w.Branch("dev"))
	f.commits["c3"] = must(w.CommitFiles("third", map[string]string{"dev.txt": "dev\n"}))
	gitserver.NoErr(t, w.Push("origin"))
	gitserver.NoErr(t, w.Push("origin", "HEAD:refs/pull/1/head"))
	gitserver.NoErr(t, w.Switch(gitserver.DefaultBranch))
	return f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// errAs asserts that err is (or wraps) an error of type T and returns it.
func errAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T) is not a %T", err, err, target)
	}
	return target
}

// noSecret asserts that no secret appears in the error message.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Fatalf("error message %q shows a secret", err)
		}
	}
}
