package bucket

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

func waitFor(t *testing.T, key client.ObjectKey, cond func(*sourcev1.Bucket) bool) *sourcev1.Bucket {
	t.Helper()
	obj := &sourcev1.Bucket{}
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

func ready(t *testing.T, key client.ObjectKey) *sourcev1.Bucket {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.Bucket) bool {
		return runtime.IsReady(o) && o.Status.Artifact != nil && o.Status.ObservedGeneration == o.Generation
	})
}

func failedWith(t *testing.T, key client.ObjectKey, reason string) *sourcev1.Bucket {
	t.Helper()
	obj := waitFor(t, key, func(o *sourcev1.Bucket) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason &&
			o.Status.ObservedGeneration == o.Generation
	})
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, runtime.Message(obj, meta.ReadyCondition))
	return obj
}

func newBucket(t *testing.T, ns, name, endpoint, bucketName string, mutate func(*sourcev1.Bucket)) client.ObjectKey {
	t.Helper()
	obj := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.BucketSpec{
			Provider:   sourcev1.BucketProviderGeneric,
			Endpoint:   endpoint,
			BucketName: bucketName,
			Insecure:   true,
			Interval:   metav1.Duration{Duration: time.Hour},
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

func update(t *testing.T, key client.ObjectKey, mutate func(*sourcev1.Bucket)) {
	t.Helper()
	for i := 0; ; i++ {
		obj := &sourcev1.Bucket{}
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

func handled(t *testing.T, key client.ObjectKey, token string) *sourcev1.Bucket {
	t.Helper()
	return waitFor(t, key, func(o *sourcev1.Bucket) bool {
		return o.Status.LastHandledReconcileAt == token && runtime.IsReady(o)
	})
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

// events lists the events recorded on the Bucket, oldest first.
func events(t *testing.T, key client.ObjectKey) []string {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[i].FirstTimestamp.Before(&list.Items[j].FirstTimestamp)
	})
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == sourcev1.BucketKind && e.InvolvedObject.Name == key.Name {
			out = append(out, fmt.Sprintf("%s x%d: %s", e.Reason, e.Count, e.Message))
		}
	}
	return out
}
