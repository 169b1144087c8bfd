package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
)

// ClientFactory builds the clients that apply and prune for a Kustomization
// or a HelmRelease: the controller's own identity only when no service
// account is named and no default is set, otherwise impersonating the
// service account; a remote cluster's when spec.kubeConfig is set.
//
// Objects with the same target share one client. A client is released,
// its idle connections closed, once no object uses it: when the last one
// moves to another target (a rotated kubeconfig, another service account)
// or is gone (Forget).
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
	// InsecureKubeconfigTLS allows kubeconfigs that skip the verification
	// of the server's certificate (insecure-skip-tls-verify), as
	// --insecure-kubeconfig-tls does; they are refused otherwise.
	InsecureKubeconfigTLS bool

	mu      sync.Mutex
	clients map[string]*sharedClient        // target -> client
	users   map[types.NamespacedName]string // object -> its target
}

// sharedClient is the client of one target and how many objects use it.
type sharedClient struct {
	client client.Client
	http   *http.Client
	users  int
}

// For returns the client for obj, which names serviceAccount and
// kubeConfig, and a string naming its target, which changes when the
// identity or cluster does. Problems with the kubeconfig Secret (missing,
// without the key, not a usable kubeconfig) are retried after retry: the
// Secret may be written after the object, as when a cluster and its
// Kustomization are created together.
func (f *ClientFactory) For(ctx context.Context, obj client.Object, serviceAccount string, kc *meta.KubeConfigReference, retry time.Duration) (client.Client, string, error) {
	cfg, target, err := f.RESTConfig(ctx, obj.GetNamespace(), serviceAccount, kc, retry)
	if err != nil {
		return nil, "", err
	}
	mapper := f.Mapper
	if kc != nil {
		mapper = nil
	}
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	if c := f.use(key, target, nil); c != nil {
		return c, target, nil
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, "", err
	}
	if mapper == nil {
		if mapper, err = MapperProvider(cfg, httpClient); err != nil {
			return nil, "", Failed(meta.ReconciliationFailedReason, fmt.Errorf("connect to the cluster of spec.kubeConfig: %w", err))
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: f.Scheme, Mapper: mapper, HTTPClient: httpClient})
	if err != nil {
		return nil, "", err
	}
	return f.use(key, target, &sharedClient{client: c, http: httpClient}), target, nil
}

// RESTConfig returns the connection for an object in namespace that names
// serviceAccount (or none: --default-service-account then applies) and
// kubeConfig, and a string naming its target (cluster and identity). The
// HelmRelease reconciler uses it for Helm's actions, so that both kinds
// follow the same rules: impersonation, and kubeconfigs that may not run
// programs or read the controller's files. Problems with the kubeconfig
// Secret are retried after retry.
func (f *ClientFactory) RESTConfig(ctx context.Context, namespace, serviceAccount string, kc *meta.KubeConfigReference, retry time.Duration) (*rest.Config, string, error) {
	sa := serviceAccount
	if sa == "" {
		sa = f.DefaultServiceAccount
	}
	cfg := rest.CopyConfig(f.Config)
	target := "local"
	if kc != nil {
		if kc.SecretRef == nil {
			return nil, "", Stallingf(meta.InvalidSpecReason, "spec.kubeConfig: only secretRef is supported")
		}
		data, err := f.kubeconfig(ctx, namespace, kc.SecretRef, retry)
		if err != nil {
			return nil, "", err
		}
		if cfg, err = f.restConfig(namespace, kc.SecretRef, data); err != nil {
			return nil, "", err
		}
		sum := sha256.Sum256(data)
		target = "kubeconfig:" + hex.EncodeToString(sum[:8])
	}
	if sa != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + namespace + ":" + sa}
		target += "/sa:" + namespace + ":" + sa
	}
	return cfg, target, nil
}

// use records that the object key uses target, releasing the
// target it used before, and returns the client of target: the one held
// already, else fresh (nil when there is none yet and fresh is nil).
func (f *ClientFactory) use(key types.NamespacedName, target string, fresh *sharedClient) client.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients == nil {
		f.clients = map[string]*sharedClient{}
		f.users = map[types.NamespacedName]string{}
	}
	sc, ok := f.clients[target]
	if !ok {
		if fresh == nil {
			return nil
		}
		sc = fresh
		f.clients[target] = sc
	} else if fresh != nil && fresh != sc {
		// Another reconcile built the same client meanwhile.
		fresh.http.CloseIdleConnections()
	}
	if prev, ok := f.users[key]; !ok || prev != target {
		if ok {
			f.releaseLocked(prev)
		}
		f.users[key] = target
		sc.users++
	}
	return sc.client
}

// Forget releases the client of the object key, which is gone.
func (f *ClientFactory) Forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.users[key]; ok {
		delete(f.users, key)
		f.releaseLocked(prev)
	}
}

// releaseLocked drops one user of target, and the client with its
// connections when that was the last.
func (f *ClientFactory) releaseLocked(target string) {
	sc, ok := f.clients[target]
	if !ok {
		return
	}
	if sc.users--; sc.users <= 0 {
		delete(f.clients, target)
		sc.http.CloseIdleConnections()
	}
}

// Held returns how many clients the factory holds.
func (f *ClientFactory) Held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

// restConfig turns the kubeconfig of the Secret ref into a connection,
// refusing what would give its writer the controller's powers or skip
// TLS verification without --insecure-kubeconfig-tls.
func (f *ClientFactory) restConfig(namespace string, ref *meta.SecretKeyReference, data []byte) (*rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, Failed(meta.ReconciliationFailedReason,
			fmt.Errorf("spec.kubeConfig: Secret '%s/%s' holds no valid kubeconfig: %w", namespace, ref.Name, err))
	}
	if err := selfContained(cfg); err != nil {
		return nil, Failed(meta.ReconciliationFailedReason,
			fmt.Errorf("spec.kubeConfig: Secret '%s/%s': %w", namespace, ref.Name, err))
	}
	if cfg.Insecure && !f.InsecureKubeconfigTLS {
		return nil, Failed(meta.ReconciliationFailedReason,
			fmt.Errorf("spec.kubeConfig: Secret '%s/%s': the kubeconfig skips TLS verification (insecure-skip-tls-verify), which the controller refuses unless started with --insecure-kubeconfig-tls", namespace, ref.Name))
	}
	return cfg, nil
}

// kubeconfig reads the kubeconfig from the Secret: the named key, or
// "value", or "value.yaml".
func (f *ClientFactory) kubeconfig(ctx context.Context, namespace string, ref *meta.SecretKeyReference, retry time.Duration) ([]byte, error) {
	secret := &corev1.Secret{}
	if err := f.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, Waiting(meta.ReconciliationFailedReason, retry,
				fmt.Errorf("spec.kubeConfig: Secret '%s/%s' not found", namespace, ref.Name))
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
	return nil, Failed(meta.ReconciliationFailedReason, fmt.Errorf("spec.kubeConfig: Secret '%s/%s' has no key %v", namespace, ref.Name, keys))
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
