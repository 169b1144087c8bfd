package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
)

// RequestReconcile sets the reconcile request annotation on the object at
// key, as `gotk reconcile` does, and returns the value it set. obj is an
// empty object of the kind, which RequestReconcile fills.
func (e *Env) RequestReconcile(t testing.TB, obj client.Object, key client.ObjectKey) string {
	t.Helper()
	ctx := context.Background()
	if err := e.Client.Get(ctx, key, obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	token := time.Now().Format(time.RFC3339Nano)
	annotations[meta.ReconcileRequestAnnotation] = token
	obj.SetAnnotations(annotations)
	if err := e.Client.Patch(ctx, obj, patch); err != nil {
		t.Fatal(err)
	}
	return token
}

// CreateSecret creates a Secret holding data.
func (e *Env) CreateSecret(t testing.TB, namespace, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Data: data}
	if err := e.Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// FetchArtifact downloads an artifact over HTTP, as a consumer does, and
// fails t unless the sha256 of what it got is the digest in status.
func FetchArtifact(t testing.TB, art *meta.Artifact) []byte {
	t.Helper()
	resp, err := http.Get(art.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", art.URL, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != art.Digest {
		t.Fatalf("artifact digest %s, status says %s", got, art.Digest)
	}
	return data
}
