package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/oci"
	"github.com/gotk-dev/gotk/internal/testenv/ociregistry"
	"github.com/gotk-dev/gotk/internal/testenv/s3server"
)

func configMap(ns, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: " + ns + "\ndata:\n  value: " + value + "\n"
}

func TestKustomizationAppliesFromOCIRepository(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.Start(t, "", "")
	c, err := oci.NewClient("oci://"+reg.Host+"/deploy/app", oci.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	pushTree := func(value string) {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "deploy"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "deploy", "cm.yaml"), []byte(configMap(ns, value)), 0o644))
		if _, err := c.PushDir(context.Background(), dir, nil, nil, "latest"); err != nil {
			t.Fatal(err)
		}
	}
	pushTree("one")
	create(t, &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL: "oci://" + reg.Host + "/deploy/app", Insecure: true,
			Reference: &sourcev1.OCIRepositoryRef{Tag: "latest"},
			Interval:  metav1.Duration{Duration: time.Hour},
		},
	})
	create(t, kustomizationFor(ns, sourcev1.OCIRepositoryKind, "./deploy"))
	waitConfigMap(t, ns, "one")

	pushTree("two")
	env.RequestReconcile(t, &sourcev1.OCIRepository{}, client.ObjectKey{Namespace: ns, Name: "app"})
	waitConfigMap(t, ns, "two")
}

func TestKustomizationAppliesFromBucket(t *testing.T) {
	ns := env.Namespace(t)
	srv := s3server.Start(t, "AKID")
	srv.CreateBucket(t, "manifests")
	srv.Put(t, "manifests", "deploy/cm.yaml", configMap(ns, "one"))
	env.CreateSecret(t, ns, "s3", map[string][]byte{"accesskey": []byte("AKID"), "secretkey": []byte("secret")})
	create(t, &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.BucketSpec{
			Provider: sourcev1.BucketProviderGeneric, Endpoint: srv.Endpoint, BucketName: "manifests", Insecure: true,
			SecretRef: &meta.LocalObjectReference{Name: "s3"},
			Interval:  metav1.Duration{Duration: time.Hour},
		},
	})
	create(t, kustomizationFor(ns, sourcev1.BucketKind, "./deploy"))
	waitConfigMap(t, ns, "one")

	srv.Put(t, "manifests", "deploy/cm.yaml", configMap(ns, "two"))
	env.RequestReconcile(t, &sourcev1.Bucket{}, client.ObjectKey{Namespace: ns, Name: "app"})
	waitConfigMap(t, ns, "two")
}

func kustomizationFor(ns, kind, path string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: "app"},
			Path:      path,
			Prune:     true,
			Interval:  metav1.Duration{Duration: time.Hour},
		},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitConfigMap waits until the applied ConfigMap holds value.
func waitConfigMap(t *testing.T, ns, value string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, cm)
		if err == nil && cm.Data["value"] == value {
			return
		}
		if time.Now().After(deadline) {
			k := &kustomizev1.Kustomization{}
			_ = env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, k)
			t.Fatalf("ConfigMap %s/app never held value %q (err %v, data %v); Kustomization status: %+v", ns, value, err, cm.Data, k.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
