package kustomization

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// ClientFactory builds the clients that apply and prune for a
// Kustomization: the controller's own identity only when no service
// account is named and no default is set, otherwise impersonating the
// service account; a remote cluster's when spec.kubeConfig is set.
type ClientFactory struct {
	// Config is the controller's connection to its own cluster.
	Config *rest.Config
	Scheme *kruntime.Scheme
	Mapper kmeta.RESTMapper
	// Reader reads the kubeconfig Secrets.
	Reader client.Reader
	// DefaultServiceAccount is impersonated when spec.serviceAccountName
	// is empty (--default-service-account).
	DefaultServiceAccount string

	clients sync.Map // target -> client.Client
}

// For returns the client for obj and a string naming its target, which
// changes when the identity or cluster does.
func (f *ClientFactory) For(ctx context.Context, obj *kustomizev1.Kustomization) (client.Client, string, error) {
	sa := obj.Spec.ServiceAccountName
	if sa == "" {
		sa = f.DefaultServiceAccount
	}
	cfg := rest.CopyConfig(f.Config)
	mapper := f.Mapper
	target := "local"
	if kc := obj.Spec.KubeConfig; kc != nil {
		if kc.SecretRef == nil {
			return nil, "", runtime.Stallingf(meta.InvalidSpecReason, "spec.kubeConfig: only secretRef is supported")
		}
		data, err := f.kubeconfig(ctx, obj.Namespace, kc.SecretRef)
		if err != nil {
			return nil, "", err
		}
		if cfg, err = clientcmd.RESTConfigFromKubeConfig(data); err != nil {
			return nil, "", runtime.Stallingf(meta.InvalidSpecReason, "spec.kubeConfig: Secret '%s/%s' holds no valid kubeconfig: %s",
				obj.Namespace, kc.SecretRef.Name, err)
		}
		if err := selfContained(cfg); err != nil {
			return nil, "", runtime.Stallingf(meta.InvalidSpecReason, "spec.kubeConfig: Secret '%s/%s': %s", obj.Namespace, kc.SecretRef.Name, err)
		}
		sum := sha256.Sum256(data)
		target = "kubeconfig:" + hex.EncodeToString(sum[:8])
		mapper = nil
	}
	if sa != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + obj.Namespace + ":" + sa}
		target += "/sa:" + obj.Namespace + ":" + sa
	}
	if c, ok := f.clients.Load(target); ok {
		return c.(client.Client), target, nil
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, "", err
	}
	if mapper == nil {
		if mapper, err = apiutil.NewDynamicRESTMapper(cfg, httpClient); err != nil {
			return nil, "", runtime.Failed(meta.ReconciliationFailedReason, fmt.Errorf("connect to the cluster of spec.kubeConfig: %w", err))
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: f.Scheme, Mapper: mapper, HTTPClient: httpClient})
	if err != nil {
		return nil, "", err
	}
	f.clients.Store(target, c)
	return c, target, nil
}

// kubeconfig reads the kubeconfig from the Secret: the named key, or
// "value", or "value.yaml".
func (f *ClientFactory) kubeconfig(ctx context.Context, namespace string, ref *meta.SecretKeyReference) ([]byte, error) {
	secret := &corev1.Secret{}
	if err := f.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, runtime.Waiting(meta.ReconciliationFailedReason, 0, fmt.Errorf("spec.kubeConfig: Secret '%s/%s' not found", namespace, ref.Name))
		}
		return nil, err
	}
	keys := []string{"value", "value.yaml"}
	if ref.Key != "" {
		keys = []string{ref.Key}
	}
	for _, k := range keys {
		if v, ok := secret.Data[k]; ok {
			return v, nil
		}
	}
	return nil, runtime.Stallingf(meta.InvalidSpecReason, "spec.kubeConfig: Secret '%s/%s' has no key %v", namespace, ref.Name, keys)
}

// selfContained refuses a kubeconfig that would make the controller run a
// program (exec credentials), use an auth provider plugin, or read files
// from its own disk (its service account token, say, sent to the server
// the kubeconfig names): whoever can write the Secret must not gain the
// controller's powers. Embedded certificates and tokens are what it takes.
func selfContained(cfg *rest.Config) error {
	switch {
	case cfg.ExecProvider != nil:
		return errors.New("exec credential plugins are not allowed; embed a token or a client certificate")
	case cfg.AuthProvider != nil:
		return errors.New("auth-provider plugins are not allowed; embed a token or a client certificate")
	case cfg.BearerTokenFile != "", cfg.CertFile != "", cfg.KeyFile != "", cfg.CAFile != "":
		return errors.New("files on the controller's disk (tokenFile, client-certificate, client-key, certificate-authority) are not allowed; embed their data instead")
	}
	return nil
}
