package oci

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The same tree pushed twice, from two directories written at different
// times, gives the same manifest digest; and the manifest has the shape
// `flux push artifact` gives it.
func TestPushDirIsDeterministicWithFluxMediaTypes(t *testing.T) {
	reg := ociregistry.Start(t, "", "")
	c, err := NewClient("oci://"+reg.Host+"/app", Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{SourceAnnotation: "https://example.test/app.git", RevisionAnnotation: "main@sha1:abc"}
	files := map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 1\n"}
	first, err := c.PushDir(context.Background(), tree(t, files), nil, ann, "v1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.PushDir(context.Background(), tree(t, files), nil, ann, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if first.Manifest.Digest != second.Manifest.Digest {
		t.Fatalf("same tree gave digests %s and %s", first.Manifest.Digest, second.Manifest.Digest)
	}
	tag, desc, err := c.Resolve(context.Background(), Reference{Tag: "v1"})
	if err != nil || tag != "v1" || desc.Digest != first.Manifest.Digest {
		t.Fatalf("Resolve v1 = %s %s %v", tag, desc.Digest, err)
	}
	m, err := c.Manifest(context.Background(), desc)
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.MediaType != ConfigMediaType ||
		len(m.Layers) != 1 || m.Layers[0].MediaType != ContentMediaType {
		raw, _ := json.Marshal(m)
		t.Fatalf("manifest is not Flux's shape: %s", raw)
	}
	if m.Annotations[SourceAnnotation] != ann[SourceAnnotation] || m.Annotations[RevisionAnnotation] != ann[RevisionAnnotation] {
		t.Errorf("annotations = %v", m.Annotations)
	}
	other, err := c.PushDir(context.Background(), tree(t, map[string]string{"a.yaml": "a: 2\n"}), nil, ann, "v3")
	if err != nil {
		t.Fatal(err)
	}
	if other.Manifest.Digest == first.Manifest.Digest {
		t.Error("a different tree gave the same digest")
	}
}

func TestSplitURL(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag, dgst string }{
		{"oci://localhost:5000/app", "localhost:5000/app", "", ""},
		{"oci://localhost:5000/org/app:v1", "localhost:5000/org/app", "v1", ""},
		{"oci://ghcr.io/org/app@sha256:" + sixtyFour, "ghcr.io/org/app", "", "sha256:" + sixtyFour},
	} {
		repo, tag, dgst, err := SplitURL(tc.in)
		if err != nil || repo != tc.repo || tag != tc.tag || dgst != tc.dgst {
			t.Errorf("SplitURL(%q) = %q %q %q %v", tc.in, repo, tag, dgst, err)
		}
	}
	for _, bad := range []string{"https://ghcr.io/app", "oci://ghcr.io", "oci://ghcr.io/"} {
		if _, _, _, err := SplitURL(bad); err == nil {
			t.Errorf("SplitURL(%q) accepted", bad)
		}
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
