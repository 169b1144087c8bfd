package artifactgenerator

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func runRules(t *testing.T, src string, ops ...swv1.CopyOperation) (string, error) {
	t.Helper()
	dst := t.TempDir()
	err := build(swv1.OutputArtifact{Name: "a", Copy: ops}, 0, map[string]string{"src": src}, dst, artifact.Limits{})
	return dst, err
}

// The destinations follow Flux's source-watcher: "dir/**" drops dir/,
// other globs keep the whole path, a directory named alone keeps its
// name, a file named alone goes to the name given or into a directory
// given with a trailing slash.
func TestCopyRuleDestinations(t *testing.T) {
	src := writeTree(t, map[string]string{
		"apps/base/a.yaml":    "a",
		"apps/base/sub/b.yml": "b",
		"apps/c.yaml":         "c",
		"top.yaml":            "t",
	})
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{"@src/apps/**", "@artifact/", []string{"base/a.yaml", "base/sub/b.yml", "c.yaml"}},
		{"@src/apps/**", "@artifact/x/", []string{"x/base/a.yaml", "x/base/sub/b.yml", "x/c.yaml"}},
		{"@src/apps/*.yaml", "@artifact/", []string{"apps/c.yaml"}},
		{"@src/apps/**/*.yaml", "@artifact/out/", []string{"out/apps/base/a.yaml", "out/apps/c.yaml"}},
		{"@src/apps/base", "@artifact/", []string{"base/a.yaml", "base/sub/b.yml"}},
		{"@src/", "@artifact/all/", []string{"all/apps/base/a.yaml", "all/apps/base/sub/b.yml", "all/apps/c.yaml", "all/top.yaml"}},
		{"@src/top.yaml", "@artifact/renamed.yaml", []string{"renamed.yaml"}},
		{"@src/top.yaml", "@artifact/dir/", []string{"dir/top.yaml"}},
	} {
		dst, err := runRules(t, src, swv1.CopyOperation{From: tc.from, To: tc.to})
		if err != nil {
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
			continue
		}
		if got := listTree(t, dst); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s -> %s: got %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

// A rule that matches nothing is an error naming the rule, whatever
// form its pattern takes.
func TestCopyRuleMatchingNothingIsAnError(t *testing.T) {
	src := writeTree(t, map[string]string{"apps/a.yaml": "a", "apps/README.md": "r"})
	for _, op := range []swv1.CopyOperation{
		{From: "@src/missing/**", To: "@artifact/"},
		{From: "@src/apps/*.json", To: "@artifact/"},
		{From: "@src/missing.yaml", To: "@artifact/"},
		{From: "@src/apps/**", To: "@artifact/", Exclude: []string{"*.yaml", "*.md"}},
		{From: "@src/apps/*", To: "@artifact/", Strategy: swv1.ExtractStrategy},
	} {
		_, err := runRules(t, src, swv1.CopyOperation{From: "@src/apps/a.yaml", To: "@artifact/"}, op)
		if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "spec.artifacts[0].copy[1]") {
			t.Errorf("%+v: error %v, want one naming spec.artifacts[0].copy[1] that matches nothing", op, err)
		}
	}
}

// A symbolic link that leads out of the source is never followed, by a
// glob or by a name; one that stays inside is copied as its target's
// content.
func TestCopyRuleRefusesSymlinksOutOfTheSource(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.txt": "secret"})
	src := writeTree(t, map[string]string{"apps/a.yaml": "a"})
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(src, "apps", "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(src, "apps", "leakdir")); err != nil {
		t.Fatal(err)
	}
	for _, op := range []swv1.CopyOperation{
		{From: "@src/apps/**", To: "@artifact/"},
		{From: "@src/apps/leak.yaml", To: "@artifact/x.yaml"},
		{From: "@src/apps/leakdir/secret.txt", To: "@artifact/x.yaml"},
	} {
		dst, err := runRules(t, src, op)
		if err == nil || !strings.Contains(err.Error(), "symbolic link that leaves the source") {
			t.Errorf("%+v: error %v, want a refused symbolic link", op, err)
		}
		for _, f := range listTree(t, dst) {
			if data, _ := os.ReadFile(filepath.Join(dst, f)); string(data) == "secret" {
				t.Errorf("%+v: the file outside the source reached the artifact as %s", op, f)
			}
		}
	}

	inside := writeTree(t, map[string]string{"apps/a.yaml": "a"})
	if err := os.Symlink("a.yaml", filepath.Join(inside, "apps", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	dst, err := runRules(t, inside, swv1.CopyOperation{From: "@src/apps/**", To: "@artifact/"})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "link.yaml")); string(data) != "a" {
		t.Errorf("a link inside the source copied as %q, want its target's content", data)
	}
}

// Paths with ".." or absolute ones are refused before anything is read.
func TestCopyRuleRefusesPathsLeavingTheirRoot(t *testing.T) {
	src := writeTree(t, map[string]string{"apps/a.yaml": "a"})
	for _, op := range []swv1.CopyOperation{
		{From: "@src/../x/**", To: "@artifact/"},
		{From: "@src/apps/../../x", To: "@artifact/"},
		{From: "@src/apps/a.yaml", To: "@artifact/../x.yaml"},
		{From: "@src/apps/a.yaml", To: "@artifact//etc/x.yaml"},
	} {
		if _, err := runRules(t, src, op); err == nil || !strings.Contains(err.Error(), "..") && !strings.Contains(err.Error(), "absolute") {
			t.Errorf("%+v: error %v, want a refused path", op, err)
		}
	}
}

// Merge deep-merges maps and replaces lists; without a file to merge
// into it copies.
func TestMergeStrategy(t *testing.T) {
	src := writeTree(t, map[string]string{
		"base.yaml":    "a: 1\nm:\n  x: 1\n  y: [1, 2]\n",
		"overlay.yaml": "b: 2\nm:\n  y: [3]\n  z: true\n",
	})
	dst, err := runRules(t, src,
		swv1.CopyOperation{From: "@src/overlay.yaml", To: "@artifact/new.yaml", Strategy: swv1.MergeStrategy},
		swv1.CopyOperation{From: "@src/base.yaml", To: "@artifact/values.yaml"},
		swv1.CopyOperation{From: "@src/overlay.yaml", To: "@artifact/values.yaml", Strategy: swv1.MergeStrategy},
	)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "values.yaml"))
	var merged map[string]any
	if err := yaml.Unmarshal(got, &merged); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 1, "b": 2, "m": map[string]any{"x": 1, "y": []any{3}, "z": true}}
	if !reflect.DeepEqual(merged, want) {
		t.Errorf("merged:\n%s\nwant %v (the key \"y\" stays a string)", got, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "new.yaml")); string(got) != "b: 2\nm:\n  y: [3]\n  z: true\n" {
		t.Errorf("merge into nothing wrote %q, want a copy", got)
	}

	bad := writeTree(t, map[string]string{"a.yaml": "a: 1\n", "list.yaml": "- 1\n- 2\n"})
	_, err = runRules(t, bad,
		swv1.CopyOperation{From: "@src/a.yaml", To: "@artifact/v.yaml"},
		swv1.CopyOperation{From: "@src/list.yaml", To: "@artifact/v.yaml", Strategy: swv1.MergeStrategy},
	)
	if err == nil || !strings.Contains(err.Error(), "list.yaml") || !strings.Contains(err.Error(), "not a YAML map") {
		t.Errorf("merging a list: error %v, want one naming list.yaml", err)
	}
}

// Extract refuses a tarball whose entries climb out of the destination.
func TestExtractStrategyRefusesEscapingTarball(t *testing.T) {
	src := writeTree(t, map[string]string{"evil.tgz": evilTarball(t)})
	dst, err := runRules(t, src, swv1.CopyOperation{From: "@src/evil.tgz", To: "@artifact/x/", Strategy: swv1.ExtractStrategy})
	if err == nil || !strings.Contains(err.Error(), "evil.tgz") || !strings.Contains(err.Error(), "unsafe entry") {
		t.Errorf("error %v, want the unsafe entry of evil.tgz named", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dst), "escaped")); err == nil {
		t.Errorf("the tarball wrote outside the artifact")
	}
}
