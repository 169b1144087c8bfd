package bucket

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv/s3server"
)

func TestBucketStoresObjectsBelowPrefixWithKeyETagRevision(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "manifests")
	srv.Put(t, "manifests", "apps/a.yaml", "a: 1\n")
	srv.Put(t, "manifests", "apps/sub/b.yaml", "b: 1\n")
	srv.Put(t, "manifests", "apps/.git/config", "x")
	srv.Put(t, "manifests", "other/c.yaml", "c: 1\n")
	key := newBucket(t, ns, "b", srv.Endpoint, "manifests", func(b *sourcev1.Bucket) { b.Spec.Prefix = "apps/" })
	obj := ready(t, key)
	files := download(t, obj.Status.Artifact)
	if got := keys(files); !cmp.Equal(got, []string{"apps/a.yaml", "apps/sub/b.yaml"}) {
		t.Errorf("artifact files = %v, want the objects below apps/ without .git", got)
	}
	if !strings.HasPrefix(obj.Status.Artifact.Revision, "sha256:") || len(obj.Status.Artifact.Revision) != len("sha256:")+64 {
		t.Errorf("revision = %q, want sha256:<64 hex>", obj.Status.Artifact.Revision)
	}
	want := Revision([]object{
		{Key: "apps/sub/b.yaml", ETag: etag(t, srv, "manifests", "apps/sub/b.yaml")},
		{Key: "apps/a.yaml", ETag: etag(t, srv, "manifests", "apps/a.yaml")},
	})
	if obj.Status.Artifact.Revision != want {
		t.Errorf("revision = %s, want %s (sorted keys and ETags)", obj.Status.Artifact.Revision, want)
	}
}

func TestUnchangedBucketIsNoOpAndChangeGivesNewArtifact(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "mfs")
	srv.Put(t, "mfs", "a.yaml", "a: 1\n")
	key := newBucket(t, ns, "b", srv.Endpoint, "mfs", nil)
	first := ready(t, key).Status.Artifact.DeepCopy()
	waitEvents(t, key, 1)

	token := env.RequestReconcile(t, &sourcev1.Bucket{}, key)
	obj := handled(t, key, token)
	if !cmp.Equal(obj.Status.Artifact, first) {
		t.Fatalf("unchanged bucket rewrote the artifact:\n%s", cmp.Diff(first, obj.Status.Artifact))
	}
	// Events are sent in the background: give a stray one time to show.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if evs := events(t, key); len(evs) != 1 || strings.Contains(evs[0], " x2") {
			t.Fatalf("a reconcile without change recorded events: %v", evs)
		}
	}

	srv.Put(t, "mfs", "a.yaml", "a: 2\n")
	env.RequestReconcile(t, &sourcev1.Bucket{}, key)
	obj = waitFor(t, key, func(o *sourcev1.Bucket) bool {
		return runtime.IsReady(o) && o.Status.Artifact != nil && o.Status.Artifact.Revision != first.Revision
	})
	if got := download(t, obj.Status.Artifact)["a.yaml"]; got != "a: 2\n" {
		t.Errorf("a.yaml = %q, want a: 2", got)
	}
	// The API server folds events with the same message into one with a
	// count: the new revision makes the NewRevision event count 2.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		evs := events(t, key)
		if len(evs) == 1 && strings.HasPrefix(evs[0], meta.NewRevisionReason+" x2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events = %q, want one NewRevision event counted twice", evs)
		}
	}
}

func TestWrongCredentialsAndMissingBucketKeepLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "AKIDGOOD")
	srv.CreateBucket(t, "mfs")
	srv.Put(t, "mfs", "a.yaml", "a: 1\n")
	env.CreateSecret(t, ns, "good", map[string][]byte{"accesskey": []byte("AKIDGOOD"), "secretkey": []byte("s")})
	env.CreateSecret(t, ns, "bad", map[string][]byte{"accesskey": []byte("AKIDBAD"), "secretkey": []byte("s")})
	key := newBucket(t, ns, "b", srv.Endpoint, "mfs", func(b *sourcev1.Bucket) {
		b.Spec.SecretRef = &meta.LocalObjectReference{Name: "good"}
	})
	good := ready(t, key).Status.Artifact.DeepCopy()

	update(t, key, func(b *sourcev1.Bucket) { b.Spec.SecretRef.Name = "bad" })
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "refused the credentials (check spec.secretRef)") ||
		!strings.Contains(msg, "bucket 'mfs'") {
		t.Errorf("Ready message = %q", msg)
	}
	if !cmp.Equal(obj.Status.Artifact, good) {
		t.Errorf("last good artifact changed:\n%s", cmp.Diff(good, obj.Status.Artifact))
	}

	update(t, key, func(b *sourcev1.Bucket) {
		b.Spec.SecretRef.Name = "good"
		b.Spec.BucketName = "gone"
	})
	obj = failedWith(t, key, sourcev1.BucketOperationFailedReason)
	want := "bucket 'gone' does not exist at '" + srv.Endpoint + "'"
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, want) {
		t.Errorf("Ready message = %q, want %q", msg, want)
	}
	if !cmp.Equal(obj.Status.Artifact, good) {
		t.Errorf("last good artifact changed:\n%s", cmp.Diff(good, obj.Status.Artifact))
	}
}

func TestObjectKeyClimbingOutIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "mfs")
	srv.Put(t, "mfs", "a.yaml", "a: 1\n")
	srv.Put(t, "mfs", "x/../../escape.yaml", "x")
	key := newBucket(t, ns, "b", srv.Endpoint, "mfs", nil)
	obj := failedWith(t, key, sourcev1.BucketOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, `object key "x/../../escape.yaml" is not a clean relative path`) {
		t.Errorf("Ready message = %q", msg)
	}
}

func TestOverSizeLimitIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "mfs")
	srv.Put(t, "mfs", "big", strings.Repeat("x", maxSize+1))
	key := newBucket(t, ns, "b", srv.Endpoint, "mfs", nil)
	obj := failedWith(t, key, sourcev1.BucketOperationFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "the artifact limits") {
		t.Errorf("Ready message = %q", msg)
	}
}

func TestIgnoreRulesShapeRevisionAndContent(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "")
	srv.CreateBucket(t, "mfs")
	srv.Put(t, "mfs", "a.yaml", "a: 1\n")
	srv.Put(t, "mfs", "secret.txt", "x")
	srv.Put(t, "mfs", ".sourceignore", "*.txt\n")
	key := newBucket(t, ns, "b", srv.Endpoint, "mfs", nil)
	obj := ready(t, key)
	if got := keys(download(t, obj.Status.Artifact)); !cmp.Equal(got, []string{".sourceignore", "a.yaml"}) {
		t.Errorf("files = %v, want .sourceignore and a.yaml (secret.txt ignored)", got)
	}
	first := obj.Status.Artifact.Revision
	update(t, key, func(b *sourcev1.Bucket) { s := "*.yaml\n"; b.Spec.Ignore = &s })
	obj = waitFor(t, key, func(o *sourcev1.Bucket) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && o.Status.Artifact.Revision != first
	})
	if got := keys(download(t, obj.Status.Artifact)); !cmp.Equal(got, []string{".sourceignore"}) {
		t.Errorf("files = %v, want .sourceignore alone", got)
	}
}

func TestCloudProvidersStall(t *testing.T) {
	ns := env.Namespace(t)
	for _, p := range []string{sourcev1.BucketProviderAmazon, sourcev1.BucketProviderGoogle, sourcev1.BucketProviderAzure} {
		key := newBucket(t, ns, p, "127.0.0.1:1", "mfs", func(b *sourcev1.Bucket) { b.Spec.Provider = p })
		obj := waitFor(t, key, func(o *sourcev1.Bucket) bool { return runtime.IsStalled(o) })
		if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, `spec.provider "`+p+`" is not supported`) {
			t.Errorf("%s: Ready message = %q", p, msg)
		}
	}
}

func etag(t *testing.T, srv *s3server.Server, bucket, key string) string {
	t.Helper()
	o, err := srv.Backend.HeadObject(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(o.Hash)
}

func waitEvents(t *testing.T, key client.ObjectKey, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := events(t, key)
		if len(evs) == n {
			return evs
		}
		if len(evs) > n || time.Now().After(deadline) {
			t.Fatalf("want %d events, got %v", n, evs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
