package helm

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

// RepositoryOptions reads the Secrets that a HelmRepository names and
// returns how to reach it: basic authentication (or, for an OCI
// repository, a dockerconfigjson entry for its host) from spec.secretRef,
// TLS from spec.certSecretRef, or from TLS keys in spec.secretRef when
// there is no spec.certSecretRef.
func RepositoryOptions(ctx context.Context, c client.Reader, obj *sourcev1.HelmRepository) (Options, error) {
	o := Options{PassCredentials: obj.Spec.PassCredentials, Insecure: obj.Spec.Insecure}
	var tlsData map[string][]byte
	tlsField, tlsName := "", ""
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := secretData(ctx, c, obj.Namespace, ref.Name)
		if err != nil {
			return o, fmt.Errorf("spec.secretRef: %w", err)
		}
		if cfg, ok := data[DockerConfigKey]; ok && obj.IsOCI() {
			host, _ := RegistryHost(obj.Spec.URL)
			o.Username, o.Password, err = DockerConfigAuth(cfg, host)
		} else {
			o.Username, o.Password, err = BasicAuthFromSecret(data)
		}
		if err != nil {
			return o, fmt.Errorf("spec.secretRef: secret '%s/%s': %w", obj.Namespace, ref.Name, err)
		}
		if HasTLS(data) {
			tlsData, tlsField, tlsName = data, "spec.secretRef", ref.Name
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		data, err := secretData(ctx, c, obj.Namespace, ref.Name)
		if err != nil {
			return o, fmt.Errorf("spec.certSecretRef: %w", err)
		}
		tlsData, tlsField, tlsName = data, "spec.certSecretRef", ref.Name
	}
	if tlsData != nil {
		cfg, err := TLSFromSecret(tlsData)
		if err != nil {
			return o, fmt.Errorf("%s: secret '%s/%s': %w", tlsField, obj.Namespace, tlsName, err)
		}
		o.TLS = cfg
	}
	return o, nil
}

func secretData(ctx context.Context, c client.Reader, namespace, name string) (map[string][]byte, error) {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return secret.Data, nil
}
