package provider

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/notify"
)

// Settings are the controller-wide choices that every delivery shares.
type Settings struct {
	// AllowLinkLocal lets Providers deliver to link-local addresses
	// (--allow-link-local-provider-addresses).
	AllowLinkLocal bool
	// Attempts and Backoff override the client's retry defaults (tests).
	Attempts int
	Backoff  time.Duration
}

// ConfigError is a Provider whose spec or Secrets cannot work until edited.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// Build reads the Provider's Secrets and returns its Notifier. alert, when
// given, is what spec.commitStatusExpr sees as `alert`.
func Build(ctx context.Context, r client.Reader, p *notificationv1beta3.Provider, alert *notificationv1beta3.Alert, s Settings) (notify.Notifier, error) {
	o, err := Options(ctx, r, p, alert, s)
	if err != nil {
		return nil, err
	}
	n, err := notify.New(o)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return n, nil
}

// Options reads the Provider's spec and Secrets into notify.Options.
func Options(ctx context.Context, r client.Reader, p *notificationv1beta3.Provider, alert *notificationv1beta3.Alert, s Settings) (notify.Options, error) {
	spec := p.Spec
	if !notify.Supported(spec.Type) {
		return notify.Options{}, configErrorf("spec.type %q is not supported by gotk; supported types: %s", spec.Type, strings.Join(notify.Types(), ", "))
	}
	o := notify.Options{
		Type:        spec.Type,
		Address:     spec.Address,
		Channel:     spec.Channel,
		Username:    spec.Username,
		ProviderUID: string(p.UID),
	}
	copts := notify.ClientOptions{Timeout: p.GetTimeout(), AllowLinkLocal: s.AllowLinkLocal, Attempts: s.Attempts, Backoff: s.Backoff}

	if spec.SecretRef != nil {
		data, err := secretData(ctx, r, p.Namespace, spec.SecretRef.Name, "spec.secretRef")
		if err != nil {
			return o, err
		}
		if v, ok := data["address"]; ok {
			o.Address = strings.TrimSpace(v)
		}
		o.Token = strings.TrimSpace(data["token"])
		o.User = data["username"]
		o.Password = data["password"]
		if h, ok := data["headers"]; ok {
			headers := map[string]string{}
			if err := yaml.Unmarshal([]byte(h), &headers); err != nil {
				return o, configErrorf("spec.secretRef %s: key \"headers\" is not a YAML map of header names to values: %v", spec.SecretRef.Name, err)
			}
			o.Headers = headers
		}
	}
	if spec.CertSecretRef != nil {
		cfg, key, err := tlsConfig(ctx, r, p.Namespace, spec.CertSecretRef.Name)
		if err != nil {
			return o, err
		}
		copts.TLS, copts.TLSKey = cfg, key
	}
	switch {
	case spec.ProxySecretRef != nil:
		data, err := secretData(ctx, r, p.Namespace, spec.ProxySecretRef.Name, "spec.proxySecretRef")
		if err != nil {
			return o, err
		}
		u, err := url.Parse(strings.TrimSpace(data["address"]))
		if err != nil || u.Host == "" {
			return o, configErrorf("spec.proxySecretRef %s: key \"address\" must be a proxy URL such as http://proxy:3128", spec.ProxySecretRef.Name)
		}
		if data["username"] != "" {
			u.User = url.UserPassword(data["username"], data["password"])
		}
		copts.Proxy = u
	case spec.Proxy != "":
		u, err := url.Parse(spec.Proxy)
		if err != nil || u.Host == "" {
			return o, configErrorf("spec.proxy %q is not a proxy URL", spec.Proxy)
		}
		copts.Proxy = u
	}
	if spec.CommitStatusExpr != "" {
		if !notify.CommitStatusTypes[spec.Type] {
			return o, configErrorf("spec.commitStatusExpr applies to github, gitlab, gitea, bitbucket, bitbucketserver and azuredevops, not %s", spec.Type)
		}
		expr, err := notify.CompileCommitStatusExpr(spec.CommitStatusExpr)
		if err != nil {
			return o, &ConfigError{Err: err}
		}
		var alertObj any = map[string]any{}
		if alert != nil {
			alertObj = alert
		}
		o.CommitStatus = func(ev notify.Event) (string, error) { return expr.Eval(ev, p, alertObj) }
	}
	o.Client = notify.NewClient(copts)
	return o, nil
}

// secretData reads a Secret of the Provider's namespace.
func secretData(ctx context.Context, r client.Reader, namespace, name, field string) (map[string]string, error) {
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &SecretError{Err: fmt.Errorf("%s: Secret %s/%s not found", field, namespace, name)}
		}
		return nil, fmt.Errorf("%s: get Secret %s/%s: %w", field, namespace, name, err)
	}
	out := make(map[string]string, len(secret.Data)+len(secret.StringData))
	for k, v := range secret.Data {
		out[k] = string(v)
	}
	return out, nil
}

// SecretError is a Secret that the Provider names but that is missing;
// creating it fixes the Provider without an edit of its spec.
type SecretError struct{ Err error }

func (e *SecretError) Error() string { return e.Err.Error() }
func (e *SecretError) Unwrap() error { return e.Err }

// tlsConfig reads spec.certSecretRef: "ca.crt" to trust, and "tls.crt"
// with "tls.key" for a client certificate. The key is a digest of them,
// under which deliveries share connections.
func tlsConfig(ctx context.Context, r client.Reader, namespace, name string) (*tls.Config, string, error) {
	data, err := secretData(ctx, r, namespace, name, "spec.certSecretRef")
	if err != nil {
		return nil, "", err
	}
	sum := sha256.New()
	for _, k := range []string{"ca.crt", "caFile", "tls.crt", "tls.key"} {
		fmt.Fprintf(sum, "%s=%d:%s;", k, len(data[k]), data[k])
	}
	cfg, err := parseTLS(data, name)
	if err != nil {
		return nil, "", err
	}
	return cfg, hex.EncodeToString(sum.Sum(nil)), nil
}

func parseTLS(data map[string]string, name string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	ca := data["ca.crt"]
	if ca == "" {
		ca = data["caFile"]
	}
	if ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, configErrorf("spec.certSecretRef %s: \"ca.crt\" holds no PEM certificate", name)
		}
		cfg.RootCAs = pool
	}
	crt, key := data["tls.crt"], data["tls.key"]
	switch {
	case crt != "" && key != "":
		pair, err := tls.X509KeyPair([]byte(crt), []byte(key))
		if err != nil {
			return nil, configErrorf("spec.certSecretRef %s: tls.crt and tls.key: %v", name, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case crt != "" || key != "":
		return nil, configErrorf("spec.certSecretRef %s: tls.crt and tls.key go together", name)
	}
	if cfg.RootCAs == nil && len(cfg.Certificates) == 0 {
		return nil, configErrorf("spec.certSecretRef %s holds neither \"ca.crt\" nor \"tls.crt\" and \"tls.key\"", name)
	}
	return cfg, nil
}

// IsConfigError reports an error that only an edit can fix.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
