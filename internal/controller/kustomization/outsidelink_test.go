package kustomization

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gotk-dev/gotk/api/meta"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// In a monorepo with a symlink out of the repository, every app that does
// not need it still deploys; the build of the one that references a file
// through it fails, saying the path is a link the source left out.
func TestBuildThroughLinkOutOfTheRepository(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"apps/web/a.yaml": configMap(ns, "web", "one")})
	gs.NoErr(t, os.MkdirAll(filepath.Join(r.w.Dir, "tools"), 0o755))
	gs.NoErr(t, os.Symlink("/etc", filepath.Join(r.w.Dir, "tools", "etc")))
	rev := r.push(map[string]string{
		"apps/db/db.yaml":            configMap(ns, "db", "one"),
		"apps/db/kustomization.yaml": "resources:\n- db.yaml\n- ../../tools/etc/hosts.yaml\n",
	})

	web := newKustomization(t, ns, "web", "./apps/web", nil)
	appliedAt(t, web, rev)
	db := newKustomization(t, ns, "db", "./apps/db", nil)
	ks := failedWith(t, db, meta.BuildFailedReason)
	wantContains(t, "Ready message", readyMessage(ks),
		`resources entry "../../tools/etc/hosts.yaml": no such file or directory`,
		`"tools/etc" is a symbolic link to "/etc", outside the repository, and was left out of the artifact`)
}
