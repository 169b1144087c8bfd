package kustomize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// writeTree writes files (path -> content) under dir; a content starting
// with "->" makes a symlink to the rest.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func configMap(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n", name)
}

// confinementFixture makes an artifact root and, beside it, a directory
// that the artifact must not reach.
func confinementFixture(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "artifact"), filepath.Join(base, "outside")
	writeTree(t, outside, map[string]string{
		"kustomization.yaml": "resources: [secret.yaml]\n",
		"secret.yaml":        configMap("outside-secret"),
		"patch.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  leaked: \"yes\"\n",
		"token.txt":          "s3cr3t",
	})
	writeTree(t, root, map[string]string{
		"app/kustomization.yaml":    "resources: [cm.yaml, ../shared]\n",
		"app/cm.yaml":               configMap("app"),
		"shared/kustomization.yaml": "resources: [cm.yaml]\n",
		"shared/cm.yaml":            configMap("shared"),
		"inlink":                    "->shared",
		"link-out":                  "->" + outside,
		"leak/kustomization.yaml":   "resources: [passwd.yaml]\n",
		"leak/passwd.yaml":          "->" + filepath.Join(outside, "secret.yaml"),
		"climb/kustomization.yaml":  "resources: [../../outside/secret.yaml]\n",
		"patchout/kustomization.yaml": "resources: [../app/cm.yaml]\n" +
			"patches:\n  - path: ../../outside/patch.yaml\n",
		"genout/kustomization.yaml":  "configMapGenerator:\n  - name: gen\n    files: [token=../../outside/token.txt]\n",
		"baseout/kustomization.yaml": "resources: [../link-out]\n",
		"plainleak/good.yaml":        configMap("good"),
		"plainleak/evil.yaml":        "->" + filepath.Join(outside, "secret.yaml"),
	})
	return root, outside
}

func TestBuildConfinement(t *testing.T) {
	root, _ := confinementFixture(t)
	ok := []struct {
		path string
		want []string
	}{
		{"app", []string{"ConfigMap/app", "ConfigMap/shared"}},
		{"inlink", []string{"ConfigMap/shared"}},
	}
	for _, tt := range ok {
		t.Run(tt.path, func(t *testing.T) {
			objs, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: tt.path}, BuildOptions{NoRemoteBases: true})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if diff := cmp.Diff(tt.want, ids(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
	failing := []struct {
		path string
		want string
	}{
		{"link-out", `spec.path "link-out" leads outside the artifact root through a symlink`},
		{"leak", `leak/kustomization.yaml: resources entry "passwd.yaml" points outside the artifact root`},
		{"climb", `climb/kustomization.yaml: resources entry "../../outside/secret.yaml" points outside the artifact root`},
		{"patchout", `patchout/kustomization.yaml: patches entry "../../outside/patch.yaml" points outside the artifact root`},
		{"genout", `genout/kustomization.yaml: generator files entry "../../outside/token.txt" points outside the artifact root`},
		{"baseout", `baseout/kustomization.yaml: resources entry "../link-out" points outside the artifact root`},
		{"plainleak", "plainleak/evil.yaml: a symlink leads outside the artifact root"},
	}
	for _, tt := range failing {
		t.Run(tt.path, func(t *testing.T) {
			_, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: tt.path}, BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the content of a file outside the artifact: %v", err)
			}
		})
	}
}

// TestConfinedFS checks the file system under kustomize on its own, the
// line of defence behind the checks that Build makes first.
func TestConfinedFS(t *testing.T) {
	root, outside := confinementFixture(t)
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	c := newConfinedFS(realRoot, false)
	if _, err := c.ReadFile(filepath.Join(root, "app", "cm.yaml")); err != nil {
		t.Errorf("reading inside the root: %v", err)
	}
	for _, p := range []string{
		filepath.Join(outside, "secret.yaml"),
		filepath.Join(root, "..", "outside", "secret.yaml"),
		filepath.Join(root, "leak", "passwd.yaml"),
		filepath.Join(root, "link-out", "secret.yaml"),
		"/etc/passwd",
	} {
		if _, err := c.ReadFile(p); err == nil {
			t.Errorf("ReadFile(%s) succeeded", p)
		}
		if c.Exists(p) {
			t.Errorf("Exists(%s) is true", p)
		}
		if _, _, err := c.CleanedAbs(p); err == nil {
			t.Errorf("CleanedAbs(%s) succeeded", p)
		}
	}
	if err := c.WriteFile(filepath.Join(root, "app", "new.yaml"), []byte("x")); err == nil {
		t.Error("WriteFile succeeded")
	}
	if err := c.RemoveAll(filepath.Join(root, "app")); err == nil {
		t.Error("RemoveAll succeeded")
	}
	if _, err := os.Stat(filepath.Join(root, "app", "cm.yaml")); err != nil {
		t.Errorf("the artifact was changed: %v", err)
	}
	// The in-memory kustomization shadows the disk and shows in listings.
	virtual := filepath.Join(realRoot, "shared", "extra.yaml")
	c.override(virtual, []byte("hello"))
	if data, err := c.ReadFile(virtual); err != nil || string(data) != "hello" {
		t.Errorf("ReadFile(override) = %q, %v", data, err)
	}
	names, err := c.ReadDir(filepath.Join(realRoot, "shared"))
	if err != nil || !cmp.Equal(names, []string{"cm.yaml", "extra.yaml", "kustomization.yaml"}) {
		t.Errorf("ReadDir = %v, %v", names, err)
	}
	if _, err := os.Stat(virtual); !os.IsNotExist(err) {
		t.Errorf("the override reached the disk: %v", err)
	}
}

// snapshot hashes every file and symlink under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var data []byte
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			data = []byte("link:" + target)
			if err != nil {
				return err
			}
		} else if data, err = os.ReadFile(p); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBuildLeavesArtifactUnchanged builds, concurrently, with every
// kustomization change the spec allows, and checks that no file of the
// artifact was added or changed: builds can share one extraction.
func TestBuildLeavesArtifactUnchanged(t *testing.T) {
	roots := []string{testdata(t, "layered"), testdata(t, "plain")}
	before := map[string]map[string]string{}
	for _, r := range roots {
		before[r] = snapshot(t, r)
	}
	specs := []struct {
		root string
		spec kustomizev1.KustomizationSpec
	}{
		{roots[0], kustomizev1.KustomizationSpec{Path: "overlays/prod", TargetNamespace: "x", NamePrefix: "p-",
			Components: []string{"../../components/ingress"}, Images: []meta.Image{{Name: "busybox", NewTag: "2"}},
			Patches: []meta.Patch{{Patch: "- op: add\n  path: /metadata/labels/x\n  value: y\n", Target: &meta.Selector{Kind: "Service"}}}}},
		{roots[0], kustomizev1.KustomizationSpec{Path: "base", NameSuffix: "-s"}},
		{roots[1], kustomizev1.KustomizationSpec{Path: "apps"}},
		{roots[1], kustomizev1.KustomizationSpec{TargetNamespace: "y"}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(specs))
	for range 4 {
		for _, s := range specs {
			wg.Go(func() {
				if _, err := Build(context.Background(), s.root, &s.spec, BuildOptions{NoRemoteBases: true}); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Build: %v", err)
	}
	for _, r := range roots {
		if diff := cmp.Diff(before[r], snapshot(t, r)); diff != "" {
			t.Errorf("%s changed (-before +after):\n%s", r, diff)
		}
	}
}

// fakeGitOnPath puts a "git" first on PATH that records its arguments and
// fails at "fetch", and returns the file it records to.
func fakeGitOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\n[ \"$1\" = fetch ] && exit 1\nexit 0\n", record)
	if err := os.WriteFile(filepath.Join(dir, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return record
}

// TestBuildRemoteBases checks that NoRemoteBases refuses git and HTTP
// references before kustomize can reach them, with a git that records its
// calls and an HTTP server on loopback that counts its requests; with
// remote bases allowed, the same fixtures show that kustomize does call
// git and does fetch the URL.
func TestBuildRemoteBases(t *testing.T) {
	calls := fakeGitOnPath(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(configMap("fetched")))
	}))
	defer srv.Close()

	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"git/kustomization.yaml":       "resources:\n  - https://github.com/org/repo//path?ref=v1\n",
		"ssh/kustomization.yaml":       "resources:\n  - ssh://git@127.0.0.1:1/org/repo.git//deploy?ref=v1\n",
		"scp/kustomization.yaml":       "resources:\n  - git@127.0.0.1:org/repo.git\n",
		"component/kustomization.yaml": "components:\n  - github.com/org/repo/components/x?ref=main\n",
		"nested/kustomization.yaml":    "resources: [../ssh]\n",
		"http/kustomization.yaml":      "resources:\n  - " + srv.URL + "/cm.yaml\n",
	})

	for _, dir := range []string{"git", "ssh", "scp", "component", "nested", "http"} {
		t.Run("refused/"+dir, func(t *testing.T) {
			_, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: dir}, BuildOptions{NoRemoteBases: true})
			if err == nil || !strings.Contains(err.Error(), "remote bases are disabled") {
				t.Fatalf("error = %v", err)
			}
		})
	}
	if data, err := os.ReadFile(calls); err == nil {
		t.Errorf("git was run with NoRemoteBases: %s", data)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the HTTP server got %d requests with NoRemoteBases", n)
	}

	t.Run("allowed/ssh", func(t *testing.T) {
		_, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "ssh"}, BuildOptions{})
		if err == nil {
			t.Fatal("Build succeeded with a git that always fails")
		}
		data, _ := os.ReadFile(calls)
		if !strings.Contains(string(data), "ssh://git@127.0.0.1:1/org/repo.git") {
			t.Errorf("git calls = %q, want a fetch of the ssh URL", data)
		}
	})
	t.Run("allowed/http", func(t *testing.T) {
		objs, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "http"}, BuildOptions{})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if diff := cmp.Diff([]string{"ConfigMap/fetched"}, ids(objs)); diff != "" {
			t.Errorf("objects (-want +got):\n%s", diff)
		}
		if hits.Load() == 0 {
			t.Error("the HTTP server got no request")
		}
	})
}

func TestIsRemote(t *testing.T) {
	for ref, want := range map[string]bool{
		"https://github.com/org/repo//path?ref=v1": true,
		"HTTPS://example.com/x.yaml":               true,
		"http://127.0.0.1:8080/cm.yaml":            true,
		"git::https://gitlab.com/org/repo":         true,
		"ssh://git@github.com/org/repo":            true,
		"git@github.com:org/repo.git":              true,
		"github.com/org/repo/deploy?ref=main":      true,
		"file:///srv/repos/app":                    true,
		"../base":                                  false,
		"deploy.yaml":                              false,
		"./github/workflows":                       false,
		"overlays/prod?x":                          false,
	} {
		if got := isRemote(ref); got != want {
			t.Errorf("isRemote(%q) = %v, want %v", ref, got, want)
		}
	}
}
