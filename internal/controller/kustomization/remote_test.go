package kustomization

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/testenv"
)

// spec.kubeConfig: the objects land in the cluster of the kubeconfig (a
// second control plane), not in the controller's own; deleting the
// Kustomization deletes them there.
func TestRemoteClusterKubeConfig(t *testing.T) {
	testenv.Require(t)
	t.Parallel()
	remote, err := testenv.Start(testenv.WithoutCRDs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = remote.Stop() })
	path, err := remote.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	ns := env.Namespace(t)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "remote", Namespace: ns}, Data: map[string][]byte{"value": kubeconfig}})
	target := "remote-" + ns
	r := newRepo(t, ns, map[string]string{
		"deploy/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + target + "\n",
		"deploy/cm.yaml": configMap(target, "settings", "remote"),
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: "remote"}}
	})
	ks := appliedAt(t, key, r.head())
	if n := len(ks.Status.Inventory.Entries); n != 2 {
		t.Errorf("inventory %+v", ks.Status.Inventory.Entries)
	}

	ctx := context.Background()
	cm := &corev1.ConfigMap{}
	if err := remote.Client.Get(ctx, clientKey(target, "settings"), cm); err != nil {
		t.Fatalf("the ConfigMap is not in the remote cluster: %v", err)
	}
	if cm.Data["value"] != "remote" || cm.Labels[kustomizev1.NameLabel] != "app" {
		t.Errorf("remote ConfigMap: %v %v", cm.Data, cm.Labels)
	}
	if err := env.Client.Get(ctx, clientKey("", target), &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Namespace was created in the controller's own cluster: %v", err)
	}

	if err := env.Client.Delete(ctx, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the remote ConfigMap deleted", func() bool {
		err := remote.Client.Get(ctx, clientKey(target, "settings"), &corev1.ConfigMap{})
		return apierrors.IsNotFound(err)
	})
}
