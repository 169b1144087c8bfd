package git

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

func TestHTTPBasicAuth(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{Username: "alice", Password: "correct-horse"})
	url := srv.RepoURL(repoName)
	want := "main@sha1:" + f.commits["c2"]

	good, err := AuthFromSecret(map[string][]byte{"username": []byte("alice"), "password": []byte("correct-horse")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, Auth: good})
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision() != want {
		t.Fatalf("revision %s, want %s", c.Revision(), want)
	}

	bad, err := AuthFromSecret(map[string][]byte{"username": []byte("alice"), "password": []byte("wrong-battery")})
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]*Auth{"wrong password": bad, "no secret": nil} {
		t.Run(name, func(t *testing.T) {
			_, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, Auth: auth})
			errAs[*AuthError](t, err)
			noSecret(t, err, "wrong-battery", "correct-horse")
			_, err = LatestRevision(ctxT(t), url, Options{Ref: Ref{Branch: "main"}, Auth: auth})
			errAs[*AuthError](t, err)
			noSecret(t, err, "wrong-battery", "correct-horse")
		})
	}
}

func TestHTTPBearerToken(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{BearerToken: "tok-good-123"})
	url := srv.RepoURL(repoName)

	good, err := AuthFromSecret(map[string][]byte{"bearerToken": []byte("tok-good-123")})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := LatestRevision(ctxT(t), url, Options{Ref: Ref{Tag: "v1.1.0"}, Auth: good})
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1.1.0@sha1:" + f.commits["c2"]; rev != want {
		t.Fatalf("revision %s, want %s", rev, want)
	}
	if _, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Tag: "v1.1.0"}, Auth: good}); err != nil {
		t.Fatal(err)
	}

	bad, err := AuthFromSecret(map[string][]byte{"bearerToken": []byte("tok-bad-456")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Tag: "v1.1.0"}, Auth: bad})
	errAs[*AuthError](t, err)
	noSecret(t, err, "tok-bad-456", "tok-good-123")

	_, err = AuthFromSecret(map[string][]byte{"bearerToken": []byte("x"), "username": []byte("y")})
	errAs[*InvalidError](t, err)
}

func TestHTTPSWithCAAndClientCertificate(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{RequireClientCert: true})
	url := srv.RepoURL(repoName)
	certPEM, keyPEM, err := srv.CA.IssueClient("gotk")
	if err != nil {
		t.Fatal(err)
	}

	full, err := AuthFromSecret(map[string][]byte{"ca.crt": srv.CA.CertPEM, "tls.crt": certPEM, "tls.key": keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, Auth: full}); err != nil {
		t.Fatal(err)
	}

	// Without ca.crt the server's certificate is not trusted.
	noCA, err := AuthFromSecret(map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LatestRevision(ctxT(t), url, Options{Auth: noCA})
	errAs[*AuthError](t, err)

	// Without a client certificate the server ends the handshake.
	caOnly, err := AuthFromSecret(map[string][]byte{"caFile": srv.CA.CertPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LatestRevision(ctxT(t), url, Options{Auth: caOnly}); err == nil {
		t.Fatal("a server requiring a client certificate accepted none")
	}

	_, err = AuthFromSecret(map[string][]byte{"tls.crt": certPEM})
	errAs[*InvalidError](t, err)
	_, err = AuthFromSecret(map[string][]byte{"ca.crt": []byte("not a certificate")})
	errAs[*InvalidError](t, err)
}

func TestSSH(t *testing.T) {
	f := newFixture(t)
	keyDir := t.TempDir()
	key := gitserver.Must[*gitserver.SSHKey](t)(gitserver.NewSSHKey(keyDir))
	stranger := gitserver.Must[*gitserver.SSHKey](t)(gitserver.NewSSHKey(keyDir))
	srv := gitserver.StartSSH(t, f.root, gitserver.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	other := gitserver.StartSSH(t, f.root, gitserver.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	url := srv.RepoURL(repoName)
	want := "dev@sha1:" + f.commits["c3"]

	secret := func(identity []byte, knownHosts []byte, extra ...string) *Auth {
		t.Helper()
		data := map[string][]byte{"identity": identity, "known_hosts": knownHosts}
		for i := 0; i+1 < len(extra); i += 2 {
			data[extra[i]] = []byte(extra[i+1])
		}
		a, err := AuthFromSecret(data)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	t.Run("trusted host key", func(t *testing.T) {
		auth := secret(key.PrivatePEM, srv.KnownHosts())
		c, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "dev"}, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		if c.Revision() != want {
			t.Fatalf("revision %s, want %s", c.Revision(), want)
		}
		rev, err := LatestRevision(ctxT(t), url, Options{Ref: Ref{SemVer: "1.x"}, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		if wantTag := "v1.1.0@sha1:" + f.commits["c2"]; rev != wantTag {
			t.Fatalf("revision %s, want %s", rev, wantTag)
		}
	})

	t.Run("encrypted identity", func(t *testing.T) {
		enc := gitserver.Must[[]byte](t)(key.EncryptedPEM("pass-phrase-1"))
		auth := secret(enc, srv.KnownHosts(), "password", "pass-phrase-1")
		if _, err := LatestRevision(ctxT(t), url, Options{Auth: auth}); err != nil {
			t.Fatal(err)
		}
		_, err := AuthFromSecret(map[string][]byte{"identity": enc, "known_hosts": srv.KnownHosts(), "password": []byte("wrong-phrase")})
		errAs[*InvalidError](t, err)
		noSecret(t, err, "wrong-phrase")
		_, err = AuthFromSecret(map[string][]byte{"identity": enc, "known_hosts": srv.KnownHosts()})
		errAs[*InvalidError](t, err)
	})

	t.Run("unknown host", func(t *testing.T) {
		// known_hosts lists another server (another port) only.
		auth := secret(key.PrivatePEM, other.KnownHosts())
		_, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "dev"}, Auth: auth})
		ae := errAs[*AuthError](t, err)
		if !strings.Contains(ae.Error(), "not in known_hosts") {
			t.Fatalf("message %q does not say the host is unknown", ae.Error())
		}
	})

	t.Run("mismatched host key", func(t *testing.T) {
		// The right address with the other server's key.
		line := strings.Replace(string(other.KnownHosts()), other.Addr[strings.LastIndex(other.Addr, ":"):],
			srv.Addr[strings.LastIndex(srv.Addr, ":"):], 1)
		auth := secret(key.PrivatePEM, []byte(line))
		_, err := LatestRevision(ctxT(t), url, Options{Auth: auth})
		ae := errAs[*AuthError](t, err)
		if !strings.Contains(ae.Error(), "does not match") {
			t.Fatalf("message %q does not say the host key mismatched", ae.Error())
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		auth := secret(stranger.PrivatePEM, srv.KnownHosts())
		_, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "dev"}, Auth: auth})
		errAs[*AuthError](t, err)
		noSecret(t, err, string(stranger.PrivatePEM))
	})

	t.Run("missing repository", func(t *testing.T) {
		auth := secret(key.PrivatePEM, srv.KnownHosts())
		_, err := LatestRevision(ctxT(t), srv.RepoURL("org/missing.git"), Options{Auth: auth})
		errAs[*NotFoundError](t, err)
	})

	t.Run("no known_hosts", func(t *testing.T) {
		auth, err := AuthFromSecret(map[string][]byte{"identity": key.PrivatePEM})
		if err != nil {
			t.Fatal(err)
		}
		_, err = LatestRevision(ctxT(t), url, Options{Auth: auth})
		errAs[*InvalidError](t, err)
		_, err = LatestRevision(ctxT(t), url, Options{})
		errAs[*InvalidError](t, err)
	})
}

// proxy is a forward HTTP proxy on loopback that requires basic proxy
// credentials and counts the requests it forwarded.
type proxy struct {
	url       string
	forwarded atomic.Int32
}

func startProxy(t *testing.T, user, pass string) *proxy {
	t.Helper()
	p := &proxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	want := "Basic " + basic(user, pass)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy auth required", http.StatusProxyAuthRequired)
			return
		}
		p.forwarded.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.url = "http://" + ln.Addr().String()
	return p
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestProxy(t *testing.T) {
	f := newFixture(t)
	srv := gitserver.StartHTTP(t, f.root, gitserver.HTTPOptions{})
	url := srv.RepoURL(repoName)
	p := startProxy(t, "proxy-user", "proxy-pass")

	good, err := ProxyFromSecret(map[string][]byte{"address": []byte(p.url), "username": []byte("proxy-user"), "password": []byte("proxy-pass")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: Ref{Branch: "main"}, Proxy: good})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != f.commits["c2"] {
		t.Fatalf("checked out %s, want %s", c.Hash, f.commits["c2"])
	}
	if p.forwarded.Load() == 0 {
		t.Fatal("the checkout did not go through the proxy")
	}

	bad, err := ProxyFromSecret(map[string][]byte{"address": []byte(p.url), "username": []byte("proxy-user"), "password": []byte("nope-nope")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LatestRevision(ctxT(t), url, Options{Proxy: bad})
	if err == nil {
		t.Fatal("a proxy with wrong credentials let the request through")
	}
	noSecret(t, err, "nope-nope")

	_, err = ProxyFromSecret(map[string][]byte{"username": []byte("x")})
	errAs[*InvalidError](t, err)
	_, err = ProxyFromSecret(map[string][]byte{"address": []byte("ftp://127.0.0.1:1")})
	errAs[*InvalidError](t, err)
}
