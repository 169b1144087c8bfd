package gitserver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func seed(t *testing.T) (root string, w *WorkTree) {
	t.Helper()
	root = t.TempDir()
	w = MustSeed(t, root, "org/app.git", map[string]string{"README.md": "hello\n"})
	return root, w
}

// clone runs the real git client against a server and returns the clone's
// HEAD.
func clone(t *testing.T, url string, extraEnv ...string) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if _, err := run(t.TempDir(), isolatedEnv(extraEnv...), nil, "git", "clone", "--quiet", url, dir); err != nil {
		return "", err
	}
	return run(dir, isolatedEnv(), nil, "git", "rev-parse", "HEAD")
}

func TestHTTPBasicAuthCloneAndPush(t *testing.T) {
	root, w := seed(t)
	head := Must[string](t)(w.Head())
	s := StartHTTP(t, root, HTTPOptions{Username: "alice", Password: "s3cret"})

	if _, err := clone(t, s.RepoURL("org/app.git")); err == nil {
		t.Fatal("anonymous clone succeeded against a server that requires basic auth")
	}
	if _, err := clone(t, strings.Replace(s.RepoURL("org/app.git"), "://", "://alice:wrong@", 1)); err == nil {
		t.Fatal("clone with a wrong password succeeded")
	}
	authURL := strings.Replace(s.RepoURL("org/app.git"), "://", "://alice:s3cret@", 1)
	got, err := clone(t, authURL)
	if err != nil {
		t.Fatal(err)
	}
	if got != head {
		t.Fatalf("cloned HEAD %s, want %s", got, head)
	}

	// Push over HTTP, with a body large enough for git to send it chunked.
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB
	next := Must[string](t)(w.CommitFiles("big file", map[string]string{"big.txt": big + Must[string](t)(w.Head())}))
	NoErr(t, w.Push(authURL, DefaultBranch))
	bare := filepath.Join(root, "org/app.git")
	if got, _ := run(bare, isolatedEnv(), nil, "git", "rev-parse", DefaultBranch); got != next {
		t.Fatalf("after push the server's %s is %s, want %s", DefaultBranch, got, next)
	}
	if !slices.ContainsFunc(s.Requests(), func(r string) bool { return strings.HasPrefix(r, "POST /org/app.git/git-receive-pack") }) {
		t.Fatalf("no receive-pack request recorded: %v", s.Requests())
	}
}

func TestHTTPBearerTokenAndTLS(t *testing.T) {
	root, w := seed(t)
	head := Must[string](t)(w.Head())
	s := StartHTTP(t, root, HTTPOptions{BearerToken: "tok-123", TLS: true})
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s is not https on loopback", s.URL)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	NoErr(t, os.WriteFile(caFile, s.CA.CertPEM, 0o600))
	tlsEnv := []string{"GIT_SSL_CAINFO=" + caFile}

	if _, err := clone(t, s.RepoURL("org/app.git"), tlsEnv...); err == nil {
		t.Fatal("clone without a token succeeded")
	}
	// Without the CA, the certificate is not trusted.
	_, err := clone(t, s.RepoURL("org/app.git"), "GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Bearer tok-123")
	if err == nil {
		t.Fatal("clone trusted a certificate from an unknown CA")
	}
	got, err := clone(t, s.RepoURL("org/app.git"), append(tlsEnv, "GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Bearer tok-123")...)
	if err != nil {
		t.Fatal(err)
	}
	if got != head {
		t.Fatalf("cloned HEAD %s, want %s", got, head)
	}
}

func TestSSHCloneAndPush(t *testing.T) {
	root, w := seed(t)
	dir := t.TempDir()
	key := Must[*SSHKey](t)(NewSSHKey(dir))
	other := Must[*SSHKey](t)(NewSSHKey(dir))
	s := StartSSH(t, root, SSHOptions{AuthorizedKeys: []ssh.PublicKey{key.Public}})

	known := filepath.Join(dir, "known_hosts")
	NoErr(t, os.WriteFile(known, s.KnownHosts(), 0o600))
	sshCmd := func(k *SSHKey) string {
		return "GIT_SSH_COMMAND=ssh -F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=" +
			known + " -o StrictHostKeyChecking=yes -i " + k.Path
	}
	got, err := clone(t, s.RepoURL("org/app.git"), sshCmd(key))
	if err != nil {
		t.Fatal(err)
	}
	if want := Must[string](t)(w.Head()); got != want {
		t.Fatalf("cloned HEAD %s, want %s", got, want)
	}
	if _, err := clone(t, s.RepoURL("org/app.git"), sshCmd(other)); err == nil {
		t.Fatal("clone with an unauthorized key succeeded")
	}
	if _, err := clone(t, s.RepoURL("../outside.git"), sshCmd(key)); err == nil {
		t.Fatal("clone of a path outside the root succeeded")
	}

	next := Must[string](t)(w.CommitFiles("second", map[string]string{"b.txt": "b"}))
	w2env := sshCmd(key)
	if _, err := run(w.Dir, isolatedEnv(w2env), nil, "git", "push", "--quiet", s.RepoURL("org/app.git"), DefaultBranch); err != nil {
		t.Fatal(err)
	}
	if got, _ := run(filepath.Join(root, "org/app.git"), isolatedEnv(), nil, "git", "rev-parse", DefaultBranch); got != next {
		t.Fatalf("after push over SSH the server has %s, want %s", got, next)
	}
}

func TestSignedCommitsAndTags(t *testing.T) {
	_, w := seed(t)

	pgp := NewOpenPGPKeyT(t, "Gotk Signer", "signer@gotk.invalid")
	w.SignWith(pgp)
	Must[string](t)(w.CommitFiles("signed with openpgp", map[string]string{"a.txt": "a"}))
	Must[string](t)(w.AnnotatedTag("v1.0.0", "release"))
	for _, args := range [][]string{{"verify-commit", "HEAD"}, {"verify-tag", "v1.0.0"}} {
		if _, err := run(w.Dir, isolatedEnv(pgp.env()...), nil, "git", args...); err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
	}
	raw := Must[string](t)(w.Git("cat-file", "commit", "HEAD"))
	if !strings.Contains(raw, "-----BEGIN PGP SIGNATURE-----") {
		t.Fatalf("commit carries no OpenPGP signature:\n%s", raw)
	}

	sk := Must[*SSHSigningKey](t)(NewSSHSigningKey(t.TempDir()))
	w.SignWith(sk)
	Must[string](t)(w.CommitFiles("signed with ssh", map[string]string{"b.txt": "b"}))
	Must[string](t)(w.AnnotatedTag("v1.1.0", "release"))
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	NoErr(t, os.WriteFile(allowed, []byte(AuthorEmail+" "+string(sk.AuthorizedKey)+"\n"), 0o600))
	for _, args := range [][]string{{"verify-commit", "HEAD"}, {"verify-tag", "v1.1.0"}} {
		full := append([]string{"-c", "gpg.ssh.allowedSignersFile=" + allowed}, args...)
		if _, err := run(w.Dir, isolatedEnv(), nil, "git", full...); err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
	}

	w.SignWith(nil)
	Must[string](t)(w.CommitFiles("unsigned", map[string]string{"c.txt": "c"}))
	if raw := Must[string](t)(w.Git("cat-file", "commit", "HEAD")); strings.Contains(raw, "SIGNATURE") {
		t.Fatalf("unsigned commit carries a signature:\n%s", raw)
	}
}

func TestDeterministicCommits(t *testing.T) {
	a := Must[*WorkTree](t)(NewWorkTree(filepath.Join(t.TempDir(), "a")))
	b := Must[*WorkTree](t)(NewWorkTree(filepath.Join(t.TempDir(), "b")))
	files := map[string]string{"x/y.txt": "same"}
	ha := Must[string](t)(a.CommitFiles("same", files))
	hb := Must[string](t)(b.CommitFiles("same", files))
	if ha != hb {
		t.Fatalf("the same steps made different commits: %s and %s", ha, hb)
	}
	if err := a.WriteFile("../escape", "x"); err == nil {
		t.Fatal("WriteFile wrote outside the work tree")
	}
}
