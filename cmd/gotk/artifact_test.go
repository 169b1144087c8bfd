package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
	"github.com/gotk-dev/gotk/internal/testenv/s3server"
)

// tree writes files under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// push artifact is deterministic (the same tree from two directories gives
// one digest), list artifacts shows the tags with their origin, tag
// artifact adds a tag, and pull artifact unpacks what was pushed.
func TestPushListTagPullArtifact(t *testing.T) {
	reg := ociregistry.Start(t, "bot", "pw")
	url := "oci://" + reg.Host + "/manifests/app"
	files := map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n", "README.md": "hi\n"}
	auth := []string{"--creds=bot:pw", "--insecure-registry"}
	push := func(tag, dir string) string {
		t.Helper()
		r := gotk(t, "", append([]string{"push", "artifact", url + ":" + tag, "--path=" + dir,
			"--source=https://example.test/app.git", "--revision=main@sha1:abc"}, auth...)...)
		if r.code != 0 {
			t.Fatalf("push artifact:\n%s", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	first := push("v1.0.0", tree(t, files))
	second := push("v1.1.0", tree(t, files))
	if !strings.HasPrefix(first, url+"@sha256:") || first != second {
		t.Fatalf("pushes of the same tree printed %q and %q, want one oci://...@sha256: digest", first, second)
	}

	r := gotk(t, "", append([]string{"push", "artifact", url + ":v2", "--path=" + tree(t, files)}, "--insecure-registry")...)
	if r.code == 0 || !strings.Contains(r.stderr, "the registry asks for credentials") {
		t.Errorf("push without credentials:\n%s", r)
	}

	r = gotk(t, "", append([]string{"tag", "artifact", url + ":v1.1.0", "--tag=latest"}, auth...)...)
	if r.code != 0 {
		t.Fatalf("tag artifact:\n%s", r)
	}
	r = gotk(t, "", append([]string{"list", "artifacts", url, "--filter-semver=>=1.0.0"}, auth...)...)
	if r.code != 0 {
		t.Fatalf("list artifacts:\n%s", r)
	}
	digest := strings.TrimPrefix(first, url+"@")
	for _, want := range []string{"ARTIFACT", url + ":v1.0.0", url + ":v1.1.0", digest, "https://example.test/app.git", "main@sha1:abc"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list artifacts lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, url+":latest") {
		t.Errorf("--filter-semver kept latest:\n%s", r)
	}

	// diff artifact: the same tree is no change (exit 0), another differs (exit 1).
	r = gotk(t, "", append([]string{"diff", "artifact", url + ":v1.0.0", "--path=" + tree(t, files)}, auth...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "no changes") {
		t.Errorf("diff artifact of the same tree:\n%s", r)
	}
	r = gotk(t, "", append([]string{"diff", "artifact", url + ":v1.0.0", "--path=" + tree(t, map[string]string{"README.md": "changed\n"})}, auth...)...)
	if r.code != 1 || !strings.Contains(r.stdout, "differs") {
		t.Errorf("diff artifact of another tree:\n%s", r)
	}
	// build artifact writes the layer push artifact pushed, byte for byte.
	built := filepath.Join(t.TempDir(), "app.tar.gz")
	r = gotk(t, "", "build", "artifact", "--path="+tree(t, files), "--output="+built)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Fatalf("build artifact:\n%s", r)
	}
	r2 := gotk(t, "", "build", "artifact", "--path="+tree(t, files), "--output="+built+"2")
	if r2.stdout != r.stdout {
		t.Errorf("build artifact of the same tree gave %q and %q", r.stdout, r2.stdout)
	}

	out := t.TempDir()
	r = gotk(t, "", append([]string{"pull", "artifact", url + ":latest", "--output=" + out}, auth...)...)
	if r.code != 0 {
		t.Fatalf("pull artifact:\n%s", r)
	}
	got, err := os.ReadFile(filepath.Join(out, "deploy", "cm.yaml"))
	if err != nil || string(got) != files["deploy/cm.yaml"] {
		t.Errorf("pulled deploy/cm.yaml = %q, %v", got, err)
	}
	r = gotk(t, "", append([]string{"pull", "artifact", url + ":v9", "--output=" + out}, auth...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "tag 'v9' not found") {
		t.Errorf("pull of a missing tag:\n%s", r)
	}
}

// create source oci and create source bucket wait for the real
// reconcilers; get, suspend, resume, reconcile, export and delete work on
// both kinds.
func TestCreateSourceOCIAndBucketWithRealController(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	url := "oci://" + reg.Host + "/app"
	if r := gotk(t, "", "push", "artifact", url+":v1", "--path="+tree(t, map[string]string{"a.yaml": "a: 1\n"}), "--insecure-registry"); r.code != 0 {
		t.Fatalf("push artifact:\n%s", r)
	}
	r := kgotk(t, "", "create", "source", "oci", "app", "--url="+url, "--tag=v1", "--insecure", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ fetched revision v1@sha256:") {
		t.Fatalf("create source oci:\n%s", r)
	}

	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "manifests")
	srv.Put(t, "manifests", "a.yaml", "a: 1\n")
	r = kgotk(t, "", "create", "source", "bucket", "b", "--endpoint="+srv.Endpoint, "--bucket-name=manifests", "--insecure", "-n", ns, "--timeout=2m")
	if r.code != 0 || !strings.Contains(r.stderr, "✔ fetched revision sha256:") {
		t.Fatalf("create source bucket:\n%s", r)
	}

	for _, tc := range []struct{ kind, name string }{{"oci", "app"}, {"bucket", "b"}} {
		r = kgotk(t, "", "get", "sources", tc.kind, "-n", ns)
		if r.code != 0 || !strings.Contains(r.stdout, tc.name) || !strings.Contains(r.stdout, "True") {
			t.Errorf("get sources %s:\n%s", tc.kind, r)
		}
		for _, args := range [][]string{{"suspend"}, {"resume"}, {"reconcile", "--timeout=2m"}} {
			verb := args[0]
			if r = kgotk(t, "", append(args, "source", tc.kind, tc.name, "-n", ns)...); r.code != 0 {
				t.Errorf("%s source %s:\n%s", verb, tc.kind, r)
			}
		}
		r = kgotk(t, "", "export", "source", tc.kind, tc.name, "-n", ns)
		if r.code != 0 || !strings.Contains(r.stdout, "apiVersion: source.toolkit.fluxcd.io/v1") || strings.Contains(r.stdout, "status:") {
			t.Errorf("export source %s:\n%s", tc.kind, r)
		}
		if r = kgotk(t, "", "delete", "source", tc.kind, tc.name, "-n", ns, "--silent"); r.code != 0 {
			t.Errorf("delete source %s:\n%s", tc.kind, r)
		}
	}
}
