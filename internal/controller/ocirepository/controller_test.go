package ocirepository

import (
	"archive/tar"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/oci"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
)

var plain = oci.Options{Insecure: true}

func TestTagRefStoresArtifactWithTagAtDigestRevision(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app/manifests", "v1", map[string]string{
		"deploy/cm.yaml": "kind: ConfigMap\n", ".git/config": "x", "README.md": "hello",
	})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app/manifests", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	})
	want := "v1@" + res.Manifest.Digest.String()
	obj := readyAt(t, key, want)
	if got := keys(download(t, obj.Status.Artifact)); !cmp.Equal(got, []string{"README.md", "deploy/cm.yaml"}) {
		t.Errorf("artifact files = %v, want README.md and deploy/cm.yaml (.git left out)", got)
	}
	if got := obj.Status.Artifact.Metadata[oci.RevisionAnnotation]; got != "main@sha1:v1" {
		t.Errorf("artifact metadata %s = %q, want the manifest's annotation", oci.RevisionAnnotation, got)
	}
	if obj.Status.URL != obj.Status.Artifact.URL {
		t.Errorf("status.url = %q, want the artifact URL %q", obj.Status.URL, obj.Status.Artifact.URL)
	}
}

func TestNewPushToTagGivesNewArtifactAndUnchangedTagIsNoOp(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	first := push(t, reg, plain, "app", "latest", map[string]string{"a.yaml": "a: 1\n"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) { o.Spec.Insecure = true })
	obj := readyAt(t, key, "latest@"+first.Manifest.Digest.String())
	firstArt := obj.Status.Artifact.DeepCopy()

	// Nothing moved: a reconcile keeps the artifact as it is.
	token := env.RequestReconcile(t, &sourcev1.OCIRepository{}, key)
	obj = handled(t, key, token)
	if !cmp.Equal(obj.Status.Artifact, firstArt) {
		t.Fatalf("unchanged tag rewrote the artifact:\n%s", cmp.Diff(firstArt, obj.Status.Artifact))
	}

	second := push(t, reg, plain, "app", "latest", map[string]string{"a.yaml": "a: 2\n"})
	if second.Manifest.Digest == first.Manifest.Digest {
		t.Fatal("different trees gave the same manifest digest")
	}
	env.RequestReconcile(t, &sourcev1.OCIRepository{}, key)
	obj = readyAt(t, key, "latest@"+second.Manifest.Digest.String())
	if got := download(t, obj.Status.Artifact)["a.yaml"]; got != "a: 2\n" {
		t.Errorf("a.yaml = %q after the new push, want a: 2", got)
	}
	if len(storedFiles(t, key)) == 0 {
		t.Error("no artifact file in storage")
	}
}

func TestSemVerRefPicksHighestMatchingTag(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	push(t, reg, plain, "app", "1.0.0", map[string]string{"v": "1.0.0"})
	want := push(t, reg, plain, "app", "1.2.0", map[string]string{"v": "1.2.0"})
	push(t, reg, plain, "app", "2.0.0", map[string]string{"v": "2.0.0"})
	push(t, reg, plain, "app", "1.3.0-rc.1", map[string]string{"v": "1.3.0-rc.1"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{SemVer: "1.x"}
	})
	obj := readyAt(t, key, "1.2.0@"+want.Manifest.Digest.String())
	if got := download(t, obj.Status.Artifact)["v"]; got != "1.2.0" {
		t.Errorf("content = %q, want 1.2.0", got)
	}

	// semverFilter keeps only the release candidates.
	rc := push(t, reg, plain, "app", "1.3.0-rc.1", map[string]string{"v": "1.3.0-rc.1"})
	update(t, key, func(o *sourcev1.OCIRepository) {
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0-0", SemverFilter: ".*-rc.*"}
	})
	readyAt(t, key, "1.3.0-rc.1@"+rc.Manifest.Digest.String())

	update(t, key, func(o *sourcev1.OCIRepository) {
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{SemVer: ">=5.0.0"}
	})
	obj = failedWith(t, key, sourcev1.OCIPullFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "no tag matches semver '>=5.0.0'") {
		t.Errorf("Ready message = %q, want it to say no tag matches", msg)
	}
	if obj.Status.Artifact == nil || obj.Status.Artifact.Revision != "1.3.0-rc.1@"+rc.Manifest.Digest.String() {
		t.Errorf("last good artifact lost: %+v", obj.Status.Artifact)
	}
}

func TestDigestRefRevisionIsTheDigest(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	old := push(t, reg, plain, "app", "v1", map[string]string{"v": "old"})
	push(t, reg, plain, "app", "v1", map[string]string{"v": "new"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Digest: old.Manifest.Digest.String(), Tag: "v1"}
	})
	obj := readyAt(t, key, old.Manifest.Digest.String())
	if got := download(t, obj.Status.Artifact)["v"]; got != "old" {
		t.Errorf("content = %q, want the digest's (old), not the tag's", got)
	}
}

func TestBasicAuthOverTLSAndWrongCredentialsKeepLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.StartTLS(t, "flux", "s3cret")
	tlsOpts := oci.Options{Username: "flux", Password: "s3cret", TLS: caConfig(t, reg.CAPEM)}
	res := push(t, reg, tlsOpts, "private/app", "v1", map[string]string{"a.yaml": "a: 1\n"})
	env.CreateSecret(t, ns, "creds", dockerConfig(reg.Host, "flux", "s3cret"))
	env.CreateSecret(t, ns, "ca", map[string][]byte{"ca.crt": reg.CAPEM})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/private/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
		o.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	})
	good := readyAt(t, key, "v1@"+res.Manifest.Digest.String()).Status.Artifact

	env.CreateSecret(t, ns, "wrong", dockerConfig(reg.Host, "flux", "nope"))
	update(t, key, func(o *sourcev1.OCIRepository) { o.Spec.SecretRef = &meta.LocalObjectReference{Name: "wrong"} })
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "refused the credentials") || !strings.Contains(msg, "spec.secretRef") {
		t.Errorf("Ready message = %q, want it to say the credentials were refused and to name spec.secretRef", msg)
	}
	if !cmp.Equal(obj.Status.Artifact, good) {
		t.Errorf("last good artifact changed:\n%s", cmp.Diff(good, obj.Status.Artifact))
	}

	// Without the CA the registry's certificate is not trusted.
	update(t, key, func(o *sourcev1.OCIRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
		o.Spec.CertSecretRef = nil
	})
	obj = failedWith(t, key, sourcev1.OCIPullFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "certificate") {
		t.Errorf("Ready message = %q, want it to mention the certificate", msg)
	}
}

func TestMissingTagFailsAndKeepsLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app", "v1", map[string]string{"a": "1"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	})
	good := readyAt(t, key, "v1@"+res.Manifest.Digest.String()).Status.Artifact
	update(t, key, func(o *sourcev1.OCIRepository) { o.Spec.Reference.Tag = "v9" })
	obj := failedWith(t, key, sourcev1.OCIPullFailedReason)
	want := "oci://" + reg.Host + "/app: tag 'v9' not found"
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, want) {
		t.Errorf("Ready message = %q, want %q", msg, want)
	}
	if !runtime.IsTrue(obj, meta.FetchFailedCondition) {
		t.Error("FetchFailed is not True")
	}
	if !cmp.Equal(obj.Status.Artifact, good) {
		t.Errorf("last good artifact changed:\n%s", cmp.Diff(good, obj.Status.Artifact))
	}
}

func TestLayerOverSizeCapIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app", "v1", map[string]string{"a": "1"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	})
	good := readyAt(t, key, "v1@"+res.Manifest.Digest.String()).Status.Artifact
	big := make([]byte, maxSize+1)
	pushLayer(t, reg, "app", "v2", oci.ContentMediaType, big)
	update(t, key, func(o *sourcev1.OCIRepository) { o.Spec.Reference.Tag = "v2" })
	obj := failedWith(t, key, sourcev1.OCILayerOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "over the limit of 1048576 bytes") {
		t.Errorf("Ready message = %q, want it to name the size limit", msg)
	}
	if !cmp.Equal(obj.Status.Artifact, good) {
		t.Errorf("last good artifact changed:\n%s", cmp.Diff(good, obj.Status.Artifact))
	}
}

func TestUnsafeTarEntriesAreRefused(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app", "v1", map[string]string{"a": "1"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	})
	good := readyAt(t, key, "v1@"+res.Manifest.Digest.String()).Status.Artifact
	for _, tc := range []struct {
		tag     string
		entries []tar.Header
		want    string
	}{
		{"dotdot", []tar.Header{{Name: "../escape.yaml", Typeflag: tar.TypeReg, Mode: 0o644}}, `"../escape.yaml"`},
		{"symlink", []tar.Header{{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "../../../etc", Mode: 0o777}}, `"etc"`},
	} {
		pushLayer(t, reg, "app", tc.tag, oci.ContentMediaType, tarGz(t, tc.entries, map[string]string{"../escape.yaml": "x"}))
		update(t, key, func(o *sourcev1.OCIRepository) { o.Spec.Reference.Tag = tc.tag })
		obj := waitFor(t, key, func(o *sourcev1.OCIRepository) bool {
			return runtime.IsFalse(o, meta.ReadyCondition) && strings.Contains(runtime.Message(o, meta.ReadyCondition), "revision "+tc.tag+"@")
		})
		msg := runtime.Message(obj, meta.ReadyCondition)
		t.Logf("%s: %s", tc.tag, msg)
		if runtime.Reason(obj, meta.ReadyCondition) != sourcev1.OCILayerOperationFailedReason || !strings.Contains(msg, "unsafe entry "+tc.want) {
			t.Errorf("%s: Ready = %s %q, want %s naming unsafe entry %s", tc.tag, runtime.Reason(obj, meta.ReadyCondition), msg,
				sourcev1.OCILayerOperationFailedReason, tc.want)
		}
		if !cmp.Equal(obj.Status.Artifact, good) {
			t.Errorf("%s: last good artifact changed:\n%s", tc.tag, cmp.Diff(good, obj.Status.Artifact))
		}
	}
}

func TestCopyOperationStoresTheLayerAsIs(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app", "v1", map[string]string{"chart/Chart.yaml": "name: x\n"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		o.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: oci.ContentMediaType, Operation: sourcev1.OCILayerCopy}
	})
	obj := readyAt(t, key, "v1@"+res.Manifest.Digest.String())
	if obj.Status.Artifact.Digest != res.Layer.Digest.String() {
		t.Errorf("artifact digest = %s, want the layer's %s", obj.Status.Artifact.Digest, res.Layer.Digest)
	}
	update(t, key, func(o *sourcev1.OCIRepository) { o.Spec.LayerSelector.MediaType = "application/x-other" })
	obj = failedWith(t, key, sourcev1.OCILayerOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "no layer has media type 'application/x-other'") {
		t.Errorf("Ready message = %q", msg)
	}
}

func TestUnsupportedSpecStalls(t *testing.T) {
	ns := env.Namespace(t)
	for _, tc := range []struct {
		name   string
		mutate func(*sourcev1.OCIRepository)
		want   string
	}{
		{"verify", func(o *sourcev1.OCIRepository) {
			o.Spec.Verify = &sourcev1.OCIRepositoryVerification{OCIVerification: sourcev1.OCIVerification{Provider: "cosign"}}
		}, `spec.verify (provider "cosign") is not supported`},
		{"provider", func(o *sourcev1.OCIRepository) { o.Spec.Provider = sourcev1.AmazonOCIProvider }, `spec.provider "aws" is not supported`},
	} {
		key := newRepo(t, ns, tc.name, "oci://127.0.0.1:1/app", tc.mutate)
		obj := waitFor(t, key, func(o *sourcev1.OCIRepository) bool { return runtime.IsStalled(o) })
		if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: Ready message = %q, want %q", tc.name, msg, tc.want)
		}
		t.Logf("%s: %s", tc.name, runtime.Message(obj, meta.ReadyCondition))
	}
}

func TestDeleteRemovesArtifacts(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	res := push(t, reg, plain, "app", "v1", map[string]string{"a": "1"})
	key := newRepo(t, ns, "app", "oci://"+reg.Host+"/app", func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure = true
		o.Spec.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
	})
	obj := readyAt(t, key, "v1@"+res.Manifest.Digest.String())
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := env.Client.Get(context.Background(), key, &sourcev1.OCIRepository{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after delete: %v", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if files := storedFiles(t, key); len(files) != 0 {
		t.Errorf("artifacts left after delete: %v", files)
	}
}
