package gitrepository

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	gs "github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// withSecret points the object at the Secret name.
func withSecret(name string) func(*sourcev1.GitRepository) {
	return func(o *sourcev1.GitRepository) { o.Spec.SecretRef = &meta.LocalObjectReference{Name: name} }
}

// A bearer token from the Secret opens a server that wants one; a wrong
// token fails with AuthenticationFailed, without showing the token, and
// keeps the artifact.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{BearerToken: "tok-good-123"})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "a: 1\n"})
	head := gs.Must[string](t)(w.Head())
	newSecret(t, ns, "token", map[string][]byte{"bearerToken": []byte("tok-good-123")})
	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), withSecret("token"))
	good := readyAt(t, key, gs.DefaultBranch+"@sha1:"+head).Status.Artifact

	updateSecret(t, ns, "token", map[string][]byte{"bearerToken": []byte("tok-bad-456")})
	requestReconcile(t, key)
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	msg := readyMessage(obj)
	if strings.Contains(msg, "tok-bad-456") || strings.Contains(msg, "tok-good-123") {
		t.Errorf("message shows the token: %s", msg)
	}
	if !strings.Contains(msg, srv.RepoURL("app.git")) {
		t.Errorf("message does not name the URL: %s", msg)
	}
	if diff := cmp.Diff(good, obj.Status.Artifact); diff != "" {
		t.Errorf("artifact changed on failure:\n%s", diff)
	}
	download(t, obj.Status.Artifact)

	// No Secret at all: the server asks for credentials.
	key = newRepo(t, ns, "anonymous", srv.RepoURL("app.git"), nil)
	obj = failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "requires credentials") {
		t.Errorf("message does not say credentials are needed: %s", msg)
	}

	// A Secret that does not exist.
	key = newRepo(t, ns, "missing-secret", srv.RepoURL("app.git"), withSecret("nope"))
	obj = failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "secret '"+ns+"/nope' not found") {
		t.Errorf("message does not name the missing Secret: %s", msg)
	}
}

// HTTPS with a certificate from a private CA works once the Secret holds
// the CA as ca.crt, and with a client certificate where the server asks
// for one.
func TestHTTPSCustomCA(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{TLS: true})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"app.yaml": "a: 1\n"})
	head := gs.Must[string](t)(w.Head())

	// Without the CA the server is not trusted.
	key := newRepo(t, ns, "no-ca", srv.RepoURL("app.git"), nil)
	obj := failedWith(t, key, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "certificate") {
		t.Errorf("message does not mention the certificate: %s", msg)
	}

	newSecret(t, ns, "ca", map[string][]byte{"ca.crt": srv.CA.CertPEM})
	key = newRepo(t, ns, "with-ca", srv.RepoURL("app.git"), withSecret("ca"))
	obj = readyAt(t, key, gs.DefaultBranch+"@sha1:"+head)
	if diff := cmp.Diff([]string{"app.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}

	mtls := gs.StartHTTP(t, srv.Root, gs.HTTPOptions{RequireClientCert: true, Username: "git", Password: "pw-mtls"})
	certPEM, keyPEM, err := mtls.CA.IssueClient("gotk")
	gs.NoErr(t, err)
	newSecret(t, ns, "mtls", map[string][]byte{
		"ca.crt": mtls.CA.CertPEM, "tls.crt": certPEM, "tls.key": keyPEM,
		"username": []byte("git"), "password": []byte("pw-mtls"),
	})
	key = newRepo(t, ns, "mtls", mtls.RepoURL("app.git"), withSecret("mtls"))
	readyAt(t, key, gs.DefaultBranch+"@sha1:"+head)
}

// SSH with an identity and known_hosts works; an unknown host key and a
// key the server does not accept fail with AuthenticationFailed and say
// which.
func TestSSHAuth(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	root := t.TempDir()
	keyDir := t.TempDir()
	key := gs.Must[*gs.SSHKey](t)(gs.NewSSHKey(keyDir))
	stranger := gs.Must[*gs.SSHKey](t)(gs.NewSSHKey(keyDir))
	srv := gs.StartSSH(t, root, gs.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	other := gs.StartSSH(t, root, gs.SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	w := gs.MustSeed(t, root, "org/app.git", map[string]string{"app.yaml": "a: 1\n"})
	head := gs.Must[string](t)(w.Head())
	url := srv.RepoURL("org/app.git")

	newSecret(t, ns, "ssh", map[string][]byte{
		"identity": key.PrivatePEM, "identity.pub": key.AuthorizedKey, "known_hosts": srv.KnownHosts(),
	})
	good := newRepo(t, ns, "good", url, withSecret("ssh"))
	obj := readyAt(t, good, gs.DefaultBranch+"@sha1:"+head)
	if diff := cmp.Diff([]string{"app.yaml"}, download(t, obj.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}

	// An encrypted identity opens with its passphrase in "password".
	enc := gs.Must[[]byte](t)(key.EncryptedPEM("phrase-123"))
	newSecret(t, ns, "ssh-enc", map[string][]byte{
		"identity": enc, "password": []byte("phrase-123"), "known_hosts": srv.KnownHosts(),
	})
	readyAt(t, newRepo(t, ns, "encrypted", url, withSecret("ssh-enc")), gs.DefaultBranch+"@sha1:"+head)
	newSecret(t, ns, "ssh-enc-no-pass", map[string][]byte{"identity": enc, "known_hosts": srv.KnownHosts()})
	k := newRepo(t, ns, "no-passphrase", url, withSecret("ssh-enc-no-pass"))
	obj = failedWith(t, k, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "secret '"+ns+"/ssh-enc-no-pass': invalid secret key identity") {
		t.Errorf("message does not name the Secret and key: %s", msg)
	}

	// known_hosts lists another server only: the host key is unknown.
	newSecret(t, ns, "unknown-host", map[string][]byte{"identity": key.PrivatePEM, "known_hosts": other.KnownHosts()})
	k = newRepo(t, ns, "unknown-host", url, withSecret("unknown-host"))
	obj = failedWith(t, k, meta.AuthenticationFailedReason)
	msg := readyMessage(obj)
	if !strings.Contains(msg, "host key") || !strings.Contains(msg, "is not in known_hosts") {
		t.Errorf("message does not say the host key is unknown: %s", msg)
	}
	if !strings.Contains(msg, ssh.FingerprintSHA256(srv.HostKey)) {
		t.Errorf("message does not give the host key's fingerprint: %s", msg)
	}
	if obj.Status.Artifact != nil {
		t.Errorf("an untrusted host produced an artifact: %+v", obj.Status.Artifact)
	}

	// A key the server does not authorize.
	newSecret(t, ns, "wrong-key", map[string][]byte{"identity": stranger.PrivatePEM, "known_hosts": srv.KnownHosts()})
	k = newRepo(t, ns, "wrong-key", url, withSecret("wrong-key"))
	obj = failedWith(t, k, meta.AuthenticationFailedReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "public key was not accepted") || strings.Contains(msg, "PRIVATE KEY") {
		t.Errorf("message does not say the key was refused (or shows it): %s", msg)
	}

	// An ssh:// URL needs known_hosts. The Secret is what to fix, so the
	// object keeps retrying rather than stall, and recovers once the
	// Secret has the key.
	newSecret(t, ns, "no-known-hosts", map[string][]byte{"identity": key.PrivatePEM})
	k = newRepo(t, ns, "no-known-hosts", url, withSecret("no-known-hosts"))
	obj = failedWith(t, k, meta.AuthenticationFailedReason)
	if runtime.IsStalled(obj) || !strings.Contains(readyMessage(obj), "known_hosts") {
		t.Errorf("missing known_hosts should be retried, naming the key: %+v", obj.Status.Conditions)
	}
	updateSecret(t, ns, "no-known-hosts", map[string][]byte{"identity": key.PrivatePEM, "known_hosts": srv.KnownHosts()})
	readyAt(t, k, gs.DefaultBranch+"@sha1:"+head)
}
