package kustomization

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// ownKubeconfig returns a kubeconfig for the test control plane, which
// stands in for a remote cluster, as a user of its own (so that two calls
// give two different kubeconfigs).
func ownKubeconfig(t *testing.T) []byte {
	t.Helper()
	path, err := env.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// insecureKubeconfig turns data into a kubeconfig that skips TLS
// verification.
func insecureKubeconfig(t *testing.T, data []byte) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.CertificateAuthorityData = nil
		c.InsecureSkipTLSVerify = true
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kubeconfigSecret(ns, name string, data []byte, watched bool) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{"value": data}}
	if watched {
		s.Labels = map[string]string{meta.WatchLabel: meta.WatchLabelEnabled}
	}
	return s
}

func withKubeconfig(name string) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: name}}
	}
}

func failedSaying(t *testing.T, key client.ObjectKey, part string) *kustomizev1.Kustomization {
	t.Helper()
	return waitKs(t, key, "failed saying "+part, func(k *kustomizev1.Kustomization) bool {
		return runtime.IsFalse(k, meta.ReadyCondition) && strings.Contains(readyMessage(k), part)
	})
}

// A Kustomization created before the kubeconfig Secret of its cluster, as
// when Cluster API creates both together, waits for the Secret and
// applies once it exists, without anyone touching the Kustomization.
func TestKubeconfigSecretCreatedLaterIsRetried(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/cm.yaml": configMap(ns, "late", "x")})
	key := newKustomization(t, ns, "app", "./deploy", withKubeconfig("cluster"))
	failedSaying(t, key, "Secret '"+ns+"/cluster' not found")

	create(t, kubeconfigSecret(ns, "cluster", ownKubeconfig(t), false))
	appliedAt(t, key, r.head())
	if _, ok := cmValue(t, ns, "late", "value"); !ok {
		t.Error("the ConfigMap was not applied")
	}
}

// A watched kubeconfig Secret whose content is fixed reconciles its
// Kustomizations at once: here the retry interval is an hour, so only the
// watch can bring the change.
func TestKubeconfigSecretFixedIsWatched(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/cm.yaml": configMap(ns, "fixed", "x")})
	create(t, kubeconfigSecret(ns, "cluster", []byte("not: [a kubeconfig"), true))
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		withKubeconfig("cluster")(k)
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Hour}
	})
	ks := failedSaying(t, key, "holds no valid kubeconfig")
	if runtime.IsTrue(ks, meta.StalledCondition) {
		t.Errorf("a bad kubeconfig Secret stalls the Kustomization: %+v", ks.Status.Conditions)
	}

	s := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), clientKey(ns, "cluster"), s); err != nil {
		t.Fatal(err)
	}
	s.Data["value"] = ownKubeconfig(t)
	if err := env.Client.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	appliedAt(t, key, r.head())
}

// A kubeconfig that skips TLS verification is refused, naming the flag
// that allows it; with the flag, it connects.
func TestInsecureKubeconfigNeedsFlag(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	newRepo(t, ns, map[string]string{"deploy/cm.yaml": configMap(ns, "insecure", "x")})
	create(t, kubeconfigSecret(ns, "cluster", insecureKubeconfig(t, ownKubeconfig(t)), false))
	key := newKustomization(t, ns, "app", "./deploy", withKubeconfig("cluster"))
	failedSaying(t, key, "--insecure-kubeconfig-tls")
	if _, ok := cmValue(t, ns, "insecure", "value"); ok {
		t.Error("the ConfigMap was applied through an insecure kubeconfig")
	}

	ks := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), key, ks); err != nil {
		t.Fatal(err)
	}
	f := &runtime.ClientFactory{Config: env.Config, Scheme: env.Scheme, Reader: env.Client, InsecureKubeconfigTLS: true}
	c, _, err := clientFor(context.Background(), f, ks)
	if err != nil {
		t.Fatalf("with --insecure-kubeconfig-tls: %v", err)
	}
	if err := c.Get(context.Background(), clientKey(ns, "cluster"), &corev1.Secret{}); err != nil {
		t.Errorf("the insecure client cannot read: %v", err)
	}
}

// The client of a rotated kubeconfig, and that of a Kustomization that is
// gone, are released rather than kept for the controller's lifetime.
func TestKubeconfigClientsReleased(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	create(t, kubeconfigSecret(ns, "cluster", ownKubeconfig(t), false))
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}
	withKubeconfig("cluster")(ks)
	other := ks.DeepCopy()
	other.Name = "other"
	f := &runtime.ClientFactory{Config: env.Config, Scheme: env.Scheme, Reader: env.Client}

	_, first, err := clientFor(ctx, f, ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, target, err := clientFor(ctx, f, other); err != nil || target != first {
		t.Fatalf("a second Kustomization of the same cluster: target %q, %v", target, err)
	}
	if n := f.Held(); n != 1 {
		t.Fatalf("%d clients for one kubeconfig", n)
	}

	s := &corev1.Secret{}
	if err := env.Client.Get(ctx, clientKey(ns, "cluster"), s); err != nil {
		t.Fatal(err)
	}
	s.Data["value"] = ownKubeconfig(t)
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*kustomizev1.Kustomization{ks, other} {
		if _, target, err := clientFor(ctx, f, k); err != nil || target == first {
			t.Fatalf("after rotation: target %q (before %q), %v", target, first, err)
		}
	}
	if n := f.Held(); n != 1 {
		t.Errorf("%d clients held after the kubeconfig was rotated, want 1", n)
	}

	f.Forget(clientKey(ns, "app"))
	if n := f.Held(); n != 1 {
		t.Errorf("%d clients held while one Kustomization still uses it, want 1", n)
	}
	f.Forget(clientKey(ns, "other"))
	if n := f.Held(); n != 0 {
		t.Errorf("%d clients held after both Kustomizations are gone, want 0", n)
	}
}
