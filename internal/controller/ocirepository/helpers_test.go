package ocirepository

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/oci"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

// waitFor polls the object until cond holds, failing after 90 seconds
// with its status.
func waitFor(t *testing.T, key client.ObjectKey, cond func(*sourcev1.OCIRepository) bool) *sourcev1.OCIRepository {
	t.Helper()
	obj := &sourcev1.OCIRepository{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), key, obj); err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met; status: %+v", key, obj.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readyAt waits until the object is Ready with an artifact of revision.
func readyAt(t *testing.T, key client.ObjectKey, revision string) *sourcev1.OCIRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.OCIRepository) bool {
		return runtime.IsReady(o) && o.Status.Artifact != nil && o.Status.Artifact.Revision == revision &&
			o.Status.ObservedGeneration == o.Generation
	})
}

// failedWith waits until Ready is False with reason for the current
// generation.
func failedWith(t *testing.T, key client.ObjectKey, reason string) *sourcev1.OCIRepository {
	t.Helper()
	obj := waitFor(t, key, func(o *sourcev1.OCIRepository) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason &&
			o.Status.ObservedGeneration == o.Generation
	})
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, runtime.Message(obj, meta.ReadyCondition))
	return obj
}

func newRepo(t *testing.T, ns, name, url string, mutate func(*sourcev1.OCIRepository)) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL:      url,
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

// update changes the object's spec, retrying on conflicts.
func update(t *testing.T, key client.ObjectKey, mutate func(*sourcev1.OCIRepository)) {
	t.Helper()
	for i := 0; ; i++ {
		obj := &sourcev1.OCIRepository{}
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			t.Fatal(err)
		}
		mutate(obj)
		err := env.Client.Update(context.Background(), obj)
		if err == nil {
			return
		}
		if i > 10 {
			t.Fatal(err)
		}
	}
}

// handled waits until the reconcile request was processed.
func handled(t *testing.T, key client.ObjectKey, token string) *sourcev1.OCIRepository {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.OCIRepository) bool {
		return o.Status.LastHandledReconcileAt == token && runtime.IsReady(o)
	})
}

// writeTree writes files (path -> content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
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

// push packs files as Flux's content layer and pushes it as repo:tag.
func push(t *testing.T, reg *ociregistry.Registry, o oci.Options, repo, tag string, files map[string]string) oci.PushResult {
	t.Helper()
	c, err := oci.NewClient("oci://"+reg.Host+"/"+repo, o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.PushDir(context.Background(), writeTree(t, files), nil, map[string]string{
		oci.SourceAnnotation:   "https://example.test/repo.git",
		oci.RevisionAnnotation: "main@sha1:" + tag,
	}, tag)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// pushLayer pushes raw layer bytes as repo:tag.
func pushLayer(t *testing.T, reg *ociregistry.Registry, repo, tag, mediaType string, data []byte) oci.PushResult {
	t.Helper()
	c, err := oci.NewClient("oci://"+reg.Host+"/"+repo, oci.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	layer := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	res, err := c.PushLayer(context.Background(), layer, bytes.NewReader(data), nil, tag)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tarGz builds a gzip-compressed tar from raw headers, with content for
// regular files.
func tarGz(t *testing.T, entries []tar.Header, contents map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for _, h := range entries {
		h := h
		c := contents[h.Name]
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(c))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// download fetches the artifact and returns its files and their content.
func download(t *testing.T, art *meta.Artifact) map[string]string {
	t.Helper()
	data := testenv.FetchArtifact(t, art)
	dir := t.TempDir()
	if _, err := artifact.Extract(bytes.NewReader(data), dir, artifact.Limits{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			b, _ := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return err
	})
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dockerConfig is the .dockerconfigjson of a Secret for host.
func dockerConfig(host, user, pass string) map[string][]byte {
	cfg := map[string]any{"auths": map[string]any{host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}}
	data, _ := json.Marshal(cfg)
	return map[string][]byte{corev1.DockerConfigJsonKey: data}
}

// storedFiles lists the artifact files of the object in storage.
func storedFiles(t *testing.T, key client.ObjectKey) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(storage.BasePath(), "ocirepository", key.Namespace, key.Name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// caConfig trusts the PEM certificate ca.
func caConfig(t *testing.T, ca []byte) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("bad CA PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
