// Package helm holds what the source controller needs to know about Helm
// repositories and charts: how to reach an HTTP chart repository with the
// credentials of a HelmRepository, how to download and load its index
// within a size cap, and how to pick a chart version from it. Parsing and
// loading go through the Helm SDK.
package helm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Keys of the Secrets that spec.secretRef and spec.certSecretRef name.
const (
	UsernameKey   = "username"
	PasswordKey   = "password"
	CACertKey     = "ca.crt"
	ClientCertKey = "tls.crt"
	ClientKeyKey  = "tls.key"
)

// Options are the credentials and transport settings of one repository.
type Options struct {
	// Username and Password are sent as basic authentication when set.
	Username string
	Password string
	// PassCredentials sends them to hosts other than the repository's too,
	// such as a CDN that the index points chart URLs at.
	PassCredentials bool
	// TLS is the client TLS configuration; nil uses Go's defaults.
	TLS *tls.Config
	// Insecure allows plain HTTP to an OCI registry.
	Insecure bool
}

// SecretError reports a Secret that lacks keys or holds invalid material.
// Which Secret it is, the caller adds.
type SecretError struct {
	Err error
}

func (e *SecretError) Error() string { return e.Err.Error() }
func (e *SecretError) Unwrap() error { return e.Err }

// BasicAuthFromSecret reads username and password; both or neither must
// be set. A Secret with neither is valid (it may only carry TLS keys).
func BasicAuthFromSecret(data map[string][]byte) (username, password string, err error) {
	username, password = string(data[UsernameKey]), string(data[PasswordKey])
	if (username == "") != (password == "") {
		return "", "", &SecretError{Err: errors.New("keys 'username' and 'password' must be set together")}
	}
	return username, password, nil
}

// HasTLS reports whether a Secret holds any TLS key.
func HasTLS(data map[string][]byte) bool {
	return len(data[CACertKey]) > 0 || len(data[ClientCertKey]) > 0 || len(data[ClientKeyKey]) > 0
}

// TLSFromSecret builds a client TLS configuration from ca.crt, tls.crt and
// tls.key. A CA is trusted beside the system's roots.
func TLSFromSecret(data map[string][]byte) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	crt, key := data[ClientCertKey], data[ClientKeyKey]
	if (len(crt) == 0) != (len(key) == 0) {
		return nil, &SecretError{Err: errors.New("keys 'tls.crt' and 'tls.key' must be set together")}
	}
	if len(crt) > 0 {
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			return nil, &SecretError{Err: fmt.Errorf("keys 'tls.crt' and 'tls.key' are not a matching PEM certificate and key: %w", err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ca := data[CACertKey]; len(ca) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(ca) {
			return nil, &SecretError{Err: errors.New("key 'ca.crt' holds no PEM certificate")}
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// sharedTransport carries the requests to repositories without a TLS
// configuration of their own: a thousand HelmCharts of one repository
// reuse its connections instead of each opening (and leaving idle) one.
var sharedTransport = newTransport(nil)

func newTransport(tlsConfig *tls.Config) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConfig != nil {
		tr.TLSClientConfig = tlsConfig.Clone()
	}
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return tr
}

// httpClient returns a client with o's TLS settings and the proxy of the
// environment, and a function that releases its connections when done.
// It sets no timeout: callers bound requests with a context.
func (o Options) httpClient() (*http.Client, func()) {
	if o.TLS == nil {
		return &http.Client{Transport: sharedTransport}, func() {}
	}
	// Client certificates and CAs are the repository's: its transport is
	// its own, closed after use.
	tr := newTransport(o.TLS)
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// authorize sets basic authentication on req when o has credentials and
// req goes to the repository's host, or anywhere with PassCredentials.
func (o Options) authorize(req *http.Request, repoURL *url.URL) {
	if o.Username == "" && o.Password == "" {
		return
	}
	if !o.PassCredentials && (repoURL == nil || req.URL.Host != repoURL.Host) {
		return
	}
	req.SetBasicAuth(o.Username, o.Password)
}
