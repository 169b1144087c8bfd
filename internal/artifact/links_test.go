package artifact

import (
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gotk-dev/gotk/api/meta"
)

// Links out of the tree, as written or through another link, are removed
// and reported; links that stay inside, even dangling ones, are kept, and
// the tree then archives.
func TestRemoveOutsideLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"deploy/app.yaml":  "a: 1",
		"tools/etc":        "->/etc",
		"up":               "->../outside",
		"deploy/in":        "->app.yaml",
		"deploy/dangling":  "->nope",
		"deploy/parent":    "->..",
		"via":              "->deploy/parent/../..",
		"deploy/abs-in":    "->" + dir + "/deploy/app.yaml",
		"deploy/sub/chain": "->../../tools/etc",
	})
	got, err := RemoveOutsideLinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutsideLink{
		{Path: "tools/etc", Target: "/etc"},
		{Path: "up", Target: "../outside"},
		{Path: "via", Target: "deploy/parent/../.."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("removed links (-want +got):\n%s", diff)
	}
	names := tarNames(t, archiveBytes(t, dir, nil))
	for _, n := range []string{"deploy/in", "deploy/dangling", "deploy/parent", "deploy/abs-in", "deploy/sub/chain", "deploy/app.yaml"} {
		if !slices.Contains(names, n) {
			t.Errorf("archive lacks %s: %v", n, names)
		}
	}
	if err := Archive(dir, io.Discard, nil); err != nil {
		t.Errorf("the tree does not archive after removing the links: %v", err)
	}
}

// A consumer's message that names a left-out link, or a path below it,
// gets told what the path was; other "missing" messages get a hint.
func TestExplainMissing(t *testing.T) {
	t.Parallel()
	art := &meta.Artifact{}
	SetOutsideLinks(art, []OutsideLink{{Path: "tools/etc", Target: "/etc"}, {Path: "apps/db/up", Target: "../../../x"}})
	etc := `; "tools/etc" is a symbolic link to "/etc", outside the repository, and was left out of the artifact`
	for _, tc := range []struct{ msg, want string }{
		{`apps/web/kustomization.yaml: resources entry "../../tools/etc/hosts.yaml": no such file or directory in the artifact`, etc},
		{`loading KV pairs: file sources: [../../tools/etc/hosts]: open tools/etc/hosts: no such file or directory`, etc},
		{`spec.path "tools/etc" does not exist in the artifact`, etc},
		{`spec.path "mytools/etc" does not exist in the artifact`,
			"; note: the source left out 2 symbolic links pointing outside the repository: tools/etc -> /etc, apps/db/up -> ../../../x"},
		{`resources entry "tools/etcetera.yaml": invalid YAML`, ""},
	} {
		if got := ExplainMissing(tc.msg, art); got != tc.want {
			t.Errorf("ExplainMissing(%q)\n = %q\nwant %q", tc.msg, got, tc.want)
		}
	}
	if got := ExplainMissing("open x: no such file or directory", &meta.Artifact{}); got != "" {
		t.Errorf("an artifact without left-out links: %q", got)
	}
}
