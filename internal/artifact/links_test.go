package artifact

import (
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
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
