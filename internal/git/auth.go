package git

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// Secret keys read by AuthFromSecret and ProxyFromSecret.
const (
	UsernameKey    = "username"
	PasswordKey    = "password"
	BearerTokenKey = "bearerToken"
	CACertKey      = "ca.crt"
	// LegacyCAKey is the older name of CACertKey, still accepted.
	LegacyCAKey   = "caFile"
	ClientCertKey = "tls.crt"
	ClientKeyKey  = "tls.key"
	IdentityKey   = "identity"
	KnownHostsKey = "known_hosts"
	ProxyAddrKey  = "address"
)

// Auth holds the credentials of a GitRepository's Secret. Its fields are
// private so that printing it never shows a secret.
type Auth struct {
	username, password string
	bearerToken        string
	caBundle           []byte
	certPEM, keyPEM    []byte
	identity           []byte
	knownHosts         []byte
}

// AuthFromSecret reads credentials from a Secret's data: username and
// password or bearerToken for HTTPS, ca.crt (or caFile), tls.crt and
// tls.key for TLS, and identity (with password as its passphrase) and
// known_hosts for SSH. It rejects contradictory or malformed data with an
// *InvalidError that names the key but never its value.
func AuthFromSecret(data map[string][]byte) (*Auth, error) {
	a := &Auth{
		username:    string(data[UsernameKey]),
		password:    string(data[PasswordKey]),
		bearerToken: string(data[BearerTokenKey]),
		caBundle:    data[CACertKey],
		certPEM:     data[ClientCertKey],
		keyPEM:      data[ClientKeyKey],
		identity:    data[IdentityKey],
		knownHosts:  data[KnownHostsKey],
	}
	if len(a.caBundle) == 0 {
		a.caBundle = data[LegacyCAKey]
	}
	if a.bearerToken != "" && a.username != "" {
		return nil, &InvalidError{Field: "secret", Err: errors.New("set either username/password or bearerToken, not both")}
	}
	if (len(a.certPEM) == 0) != (len(a.keyPEM) == 0) {
		return nil, &InvalidError{Field: "secret", Err: errors.New("tls.crt and tls.key must be set together")}
	}
	if len(a.certPEM) > 0 {
		if _, err := tls.X509KeyPair(a.certPEM, a.keyPEM); err != nil {
			return nil, &InvalidError{Field: "secret key tls.crt/tls.key", Err: errors.New("not a matching PEM certificate and key")}
		}
	}
	if len(a.caBundle) > 0 && !x509.NewCertPool().AppendCertsFromPEM(a.caBundle) {
		return nil, &InvalidError{Field: "secret key ca.crt", Err: errors.New("no PEM certificate found")}
	}
	if len(a.identity) > 0 {
		if _, err := a.sshSigner(); err != nil {
			return nil, err
		}
	}
	if len(a.knownHosts) > 0 {
		if err := checkKnownHosts(a.knownHosts); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Auth) sshSigner() (ssh.Signer, error) {
	var (
		s   ssh.Signer
		err error
	)
	s, err = ssh.ParsePrivateKey(a.identity)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) && a.password != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase(a.identity, []byte(a.password))
	}
	switch {
	case errors.As(err, &missing):
		return nil, &InvalidError{Field: "secret key identity", Err: errors.New("the private key is encrypted and no password is set")}
	case errors.Is(err, x509.IncorrectPasswordError):
		return nil, &InvalidError{Field: "secret key identity", Err: errors.New("the password does not decrypt the private key")}
	case err != nil:
		return nil, &InvalidError{Field: "secret key identity", Err: errors.New("not a PEM or OpenSSH private key")}
	}
	return s, nil
}

func checkKnownHosts(b []byte) error {
	rest := b
	for n := 1; len(strings.TrimSpace(string(rest))) > 0; n++ {
		var err error
		_, _, _, _, rest, err = ssh.ParseKnownHosts(rest)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &InvalidError{Field: "secret key known_hosts", Err: fmt.Errorf("entry %d: %v", n, err)}
		}
	}
	return nil
}

// secrets lists the values that must never appear in a message.
func (a *Auth) secrets() []string {
	if a == nil {
		return nil
	}
	return []string{a.password, a.bearerToken, string(a.keyPEM), string(a.identity)}
}

// Proxy is the proxy from a proxySecretRef.
type Proxy struct {
	// URL of the proxy (http://, https:// or socks5://).
	URL string
	// Username and Password authenticate to the proxy.
	Username, Password string
}

// ProxyFromSecret reads a proxy from a Secret's data: address (required),
// username and password.
func ProxyFromSecret(data map[string][]byte) (*Proxy, error) {
	p := &Proxy{
		URL:      strings.TrimSpace(string(data[ProxyAddrKey])),
		Username: string(data[UsernameKey]),
		Password: string(data[PasswordKey]),
	}
	if p.URL == "" {
		return nil, &InvalidError{Field: "proxy secret key address", Err: errors.New("must be set")}
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Host == "" {
		return nil, &InvalidError{Field: "proxy secret key address", Err: errors.New("not a URL with a host")}
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, &InvalidError{Field: "proxy secret key address", Err: fmt.Errorf("scheme %q is not http, https or socks5", u.Scheme)}
	}
	return p, nil
}

// session is what one operation against one URL needs: the go-git auth
// method and TLS and proxy options, and what the SSH handshake saw, so
// failures can be classified without reading error text.
type session struct {
	url        string
	auth       transport.AuthMethod
	caBundle   []byte
	clientCert []byte
	clientKey  []byte
	proxy      transport.ProxyOptions
	secrets    []string

	mu         sync.Mutex
	hostKeyErr error
	keyOffered bool
	keySigned  bool
}

func newSession(rawURL string, o Options) (*session, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, &InvalidError{Field: "spec.url", Err: errors.New("not a URL with a host")}
	}
	s := &session{url: rawURL, secrets: o.Auth.secrets()}
	if pw, ok := u.User.Password(); ok {
		s.secrets = append(s.secrets, pw)
	}
	if o.Proxy != nil {
		s.proxy = transport.ProxyOptions{URL: o.Proxy.URL, Username: o.Proxy.Username, Password: o.Proxy.Password}
		s.secrets = append(s.secrets, o.Proxy.Password)
	}
	a := o.Auth
	switch u.Scheme {
	case "http", "https":
		if a == nil {
			return s, nil
		}
		switch {
		case a.bearerToken != "":
			s.auth = &githttp.TokenAuth{Token: a.bearerToken}
		case a.username != "":
			s.auth = &githttp.BasicAuth{Username: a.username, Password: a.password}
		}
		s.caBundle, s.clientCert, s.clientKey = a.caBundle, a.certPEM, a.keyPEM
	case "ssh":
		if a == nil || len(a.identity) == 0 {
			return nil, &InvalidError{Field: "spec.secretRef", Err: errors.New("an ssh:// URL needs a Secret with identity and known_hosts")}
		}
		if len(a.knownHosts) == 0 {
			return nil, &InvalidError{Field: "secret key known_hosts", Err: errors.New("must be set for an ssh:// URL: unknown host keys are never trusted")}
		}
		user := u.User.Username()
		if user == "" {
			user = "git"
		}
		if s.auth, err = s.sshAuth(a, user, hostPort(u)); err != nil {
			return nil, err
		}
	default:
		return nil, &InvalidError{Field: "spec.url", Err: fmt.Errorf("scheme %q is not http, https or ssh", u.Scheme)}
	}
	return s, nil
}

func hostPort(u *url.URL) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "22")
	}
	return u.Host
}

// redact returns err with every secret removed from its message.
func (s *session) redact(err error) error {
	if s == nil || err == nil {
		return err
	}
	msg := scrub(err.Error(), s.secrets)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

func (s *session) sshKeyRejected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyOffered && !s.keySigned
}

func (s *session) sshAuth(a *Auth, user, host string) (*sshAuth, error) {
	signer, err := a.sshSigner()
	if err != nil {
		return nil, err
	}
	db, err := knownHostsDB(a.knownHosts)
	if err != nil {
		return nil, err
	}
	check := db.HostKeyCallback()
	return &sshAuth{
		user:   user,
		signer: s.recording(signer),
		algos:  db.HostKeyAlgorithms(host),
		hostKey: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			err := check(hostname, remote, key)
			if err != nil {
				s.mu.Lock()
				s.hostKeyErr = describeHostKeyError(hostname, key, err)
				s.mu.Unlock()
			}
			return err
		},
		offered: func() {
			s.mu.Lock()
			s.keyOffered = true
			s.mu.Unlock()
		},
	}, nil
}

// knownHostsDB parses known_hosts data; the parser reads files only, so
// the data goes through a temporary file that is removed at once.
func knownHostsDB(data []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "known_hosts-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, werr
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, &InvalidError{Field: "secret key known_hosts", Err: errors.New("cannot be parsed")}
	}
	return db, nil
}

func describeHostKeyError(host string, key ssh.PublicKey, err error) error {
	var ke *xknownhosts.KeyError
	var re *xknownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return fmt.Errorf("host key %s of %s is not in known_hosts", ssh.FingerprintSHA256(key), host)
	case errors.As(err, &ke):
		return fmt.Errorf("host key %s of %s does not match the key in known_hosts", ssh.FingerprintSHA256(key), host)
	case errors.As(err, &re):
		return fmt.Errorf("host key %s of %s is revoked", ssh.FingerprintSHA256(key), host)
	}
	return fmt.Errorf("checking the host key of %s: %w", host, err)
}

// recording wraps a signer to note when the server accepted the key and
// asked for a signature.
func (s *session) recording(signer ssh.Signer) ssh.Signer {
	mark := func() {
		s.mu.Lock()
		s.keySigned = true
		s.mu.Unlock()
	}
	if as, ok := signer.(ssh.AlgorithmSigner); ok {
		return &recordingAlgSigner{AlgorithmSigner: as, mark: mark}
	}
	return &recordingSigner{Signer: signer, mark: mark}
}

type recordingSigner struct {
	ssh.Signer
	mark func()
}

func (r *recordingSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	r.mark()
	return r.Signer.Sign(rand, data)
}

type recordingAlgSigner struct {
	ssh.AlgorithmSigner
	mark func()
}

func (r *recordingAlgSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	r.mark()
	return r.AlgorithmSigner.Sign(rand, data)
}

func (r *recordingAlgSigner) SignWithAlgorithm(rand io.Reader, data []byte, algo string) (*ssh.Signature, error) {
	r.mark()
	return r.AlgorithmSigner.SignWithAlgorithm(rand, data, algo)
}

// sshAuth is a go-git SSH auth method that authenticates with one key and
// checks the host key against known_hosts only.
type sshAuth struct {
	user    string
	signer  ssh.Signer
	algos   []string
	hostKey ssh.HostKeyCallback
	offered func()
}

// Name implements transport.AuthMethod.
func (a *sshAuth) Name() string { return "ssh-public-keys" }

// String implements transport.AuthMethod without showing the key.
func (a *sshAuth) String() string { return "user: " + a.user + ", name: " + a.Name() }

// ClientConfig implements go-git's ssh.AuthMethod.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User: a.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			a.offered()
			return []ssh.Signer{a.signer}, nil
		})},
		HostKeyCallback:   a.hostKey,
		HostKeyAlgorithms: a.algos,
	}, nil
}
