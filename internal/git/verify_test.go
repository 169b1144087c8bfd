package git

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// signedRepo serves a repository whose main branch has, in order: a commit
// signed with pgp (tag pgp-tag, signed), a commit signed with the SSH key
// (tag ssh-tag, signed), and an unsigned commit (tag plain-tag, unsigned
// annotated; tag light, lightweight; tag signed-over-plain, SSH-signed).
func signedRepo(t *testing.T, pgp *gitserver.OpenPGPKey, sk *gitserver.SSHSigningKey) (url string, commits map[string]string) {
	t.Helper()
	must := gitserver.Must[string](t)
	root := t.TempDir()
	w := gitserver.MustSeed(t, root, repoName, map[string]string{"README.md": "signed\n"})
	commits = map[string]string{}

	w.SignWith(pgp)
	commits["pgp"] = must(w.CommitFiles("signed with OpenPGP", map[string]string{"a.txt": "a"}))
	must(w.AnnotatedTag("pgp-tag", "OpenPGP-signed tag"))
	w.SignWith(sk)
	commits["ssh"] = must(w.CommitFiles("signed with SSH", map[string]string{"b.txt": "b"}))
	must(w.AnnotatedTag("ssh-tag", "SSH-signed tag"))
	w.SignWith(nil)
	commits["plain"] = must(w.CommitFiles("unsigned", map[string]string{"c.txt": "c"}))
	must(w.AnnotatedTag("plain-tag", "unsigned tag"))
	gitserver.NoErr(t, w.Tag("light"))
	w.SignWith(sk)
	must(w.AnnotatedTag("signed-over-plain", "signed tag of an unsigned commit"))
	gitserver.NoErr(t, w.Push("origin"))
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	return srv.RepoURL(repoName), commits
}

func TestVerifySignatures(t *testing.T) {
	pgp := gitserver.NewOpenPGPKeyT(t, "Trusted Signer", "trusted@gotk.invalid")
	otherPGP := gitserver.NewOpenPGPKeyT(t, "Someone Else", "else@gotk.invalid")
	sk := gitserver.Must[*gitserver.SSHSigningKey](t)(gitserver.NewSSHSigningKey(t.TempDir()))
	otherSK := gitserver.Must[*gitserver.SSHSigningKey](t)(gitserver.NewSSHSigningKey(t.TempDir()))
	url, commits := signedRepo(t, pgp, sk)

	trusted, err := ParseKeyRing(map[string][]byte{
		// Any number of keys, of both kinds, in any Secret key.
		"keys.asc":   append(append([]byte{}, otherPGP.PublicArmored...), pgp.PublicArmored...),
		"git.sshpub": []byte("# signers\n" + string(otherSK.AuthorizedKey) + "\n" + string(sk.AuthorizedKey) + "\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := ParseKeyRing(map[string][]byte{"a.asc": otherPGP.PublicArmored, "b.sshpub": otherSK.AuthorizedKey})
	if err != nil {
		t.Fatal(err)
	}

	checkout := func(t *testing.T, ref Ref) *Commit {
		t.Helper()
		c, err := Checkout(ctxT(t), url, t.TempDir(), Options{Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	ok := []struct {
		name string
		ref  Ref
		mode string
		want []Verification
	}{
		{name: "openpgp HEAD", ref: Ref{Commit: commits["pgp"]}, mode: "HEAD",
			want: []Verification{{Object: "commit", Name: commits["pgp"], KeyType: OpenPGPKey, KeyID: pgp.Fingerprint}}},
		{name: "openpgp tag and head", ref: Ref{Tag: "pgp-tag"}, mode: "TagAndHEAD",
			want: []Verification{
				{Object: "tag", Name: "pgp-tag", KeyType: OpenPGPKey, KeyID: pgp.Fingerprint},
				{Object: "commit", Name: commits["pgp"], KeyType: OpenPGPKey, KeyID: pgp.Fingerprint},
			}},
		{name: "ssh head (lower-case mode)", ref: Ref{Tag: "ssh-tag"}, mode: "head",
			want: []Verification{{Object: "commit", Name: commits["ssh"], KeyType: SSHKey, KeyID: fingerprint(sk)}}},
		{name: "ssh tag", ref: Ref{Tag: "ssh-tag"}, mode: "Tag",
			want: []Verification{{Object: "tag", Name: "ssh-tag", KeyType: SSHKey, KeyID: fingerprint(sk)}}},
		{name: "tag through ref.name", ref: Ref{Name: "refs/tags/ssh-tag"}, mode: "Tag",
			want: []Verification{{Object: "tag", Name: "ssh-tag", KeyType: SSHKey, KeyID: fingerprint(sk)}}},
		{name: "signed tag of an unsigned commit", ref: Ref{Tag: "signed-over-plain"}, mode: "Tag",
			want: []Verification{{Object: "tag", Name: "signed-over-plain", KeyType: SSHKey, KeyID: fingerprint(sk)}}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			mode, err := ParseMode(tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(checkout(t, tt.ref), mode, trusted)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("verification %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if _, err := Verify(checkout(t, tt.ref), mode, untrusted); err == nil {
				t.Fatal("verified with keys that did not sign")
			} else {
				errAs[*VerificationError](t, err)
			}
		})
	}

	fail := []struct {
		name string
		ref  Ref
		mode Mode
		msg  string
	}{
		{name: "unsigned commit", ref: Ref{Branch: "main"}, mode: ModeHEAD, msg: "not signed"},
		{name: "unsigned tag", ref: Ref{Tag: "plain-tag"}, mode: ModeTag, msg: "not signed"},
		{name: "lightweight tag", ref: Ref{Tag: "light"}, mode: ModeTag, msg: "annotated tag"},
		{name: "branch in tag mode", ref: Ref{Branch: "main"}, mode: ModeTagAndHEAD, msg: "annotated tag"},
		{name: "unsigned tag and commit", ref: Ref{Tag: "plain-tag"}, mode: ModeTagAndHEAD, msg: "tag plain-tag: not signed"},
		{name: "signed tag of an unsigned commit, both checked", ref: Ref{Tag: "signed-over-plain"}, mode: ModeTagAndHEAD, msg: "verifying commit"},
	}
	for _, tt := range fail {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(checkout(t, tt.ref), tt.mode, trusted)
			ve := errAs[*VerificationError](t, err)
			if !strings.Contains(ve.Error(), tt.msg) {
				t.Fatalf("message %q does not say %q", ve.Error(), tt.msg)
			}
		})
	}

	t.Run("tampered", func(t *testing.T) {
		for _, name := range []string{"pgp", "ssh"} {
			c := checkout(t, Ref{Commit: commits[name]})
			if _, err := VerifyCommit(c, trusted); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c.Encoded = []byte(strings.Replace(string(c.Encoded), "signed with", "signed by", 1))
			_, err := VerifyCommit(c, trusted)
			errAs[*VerificationError](t, err)

			tagName := name + "-tag"
			tc := checkout(t, Ref{Tag: tagName})
			tc.ReferencingTag.Encoded = append(tc.ReferencingTag.Encoded, '!')
			_, err = VerifyTag(tc.ReferencingTag, trusted)
			errAs[*VerificationError](t, err)
		}
	})
}

func fingerprint(k *gitserver.SSHSigningKey) string {
	return sshFingerprint(k.Public)
}

func TestParseKeyRing(t *testing.T) {
	pgp := gitserver.NewOpenPGPKeyT(t, "A", "a@gotk.invalid")
	if _, err := ParseKeyRing(map[string][]byte{"bad": []byte("hello")}); err == nil {
		t.Fatal("parsed garbage as keys")
	} else if ie := errAs[*InvalidError](t, err); !strings.Contains(ie.Field, "bad") {
		t.Fatalf("error %q does not name the Secret key", ie)
	}
	if _, err := ParseKeyRing(map[string][]byte{}); err == nil {
		t.Fatal("an empty Secret gave a key ring")
	}
	kr, err := ParseKeyRing(map[string][]byte{"k.asc": pgp.PublicArmored})
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.pgp) != 1 || len(kr.ssh) != 0 {
		t.Fatalf("key ring has %d OpenPGP and %d SSH keys, want 1 and 0", len(kr.pgp), len(kr.ssh))
	}
	for _, m := range []string{"Head", "tag", "both"} {
		if _, err := ParseMode(m); err == nil {
			t.Fatalf("mode %q accepted", m)
		}
	}
}

// TestSSHSignatureFromSSHKeygen checks the sshsig verifier against
// signatures that ssh-keygen makes over arbitrary data, in both hash
// algorithms and another namespace.
func TestSSHSignatureFromSSHKeygen(t *testing.T) {
	dir := t.TempDir()
	sk := gitserver.Must[*gitserver.SSHSigningKey](t)(gitserver.NewSSHSigningKey(dir))
	msgFile := filepath.Join(dir, "msg")
	msg := []byte("the payload\n")
	gitserver.NoErr(t, os.WriteFile(msgFile, msg, 0o600))
	trusted := []sshPublicKey{sk.Public}

	sign := func(namespace, hash string) []byte {
		t.Helper()
		args := []string{"-Y", "sign", "-n", namespace, "-f", sk.Path}
		if hash != "" {
			args = append(args, "-O", "hashalg="+hash)
		}
		gitserver.NoErr(t, runCmd(t, "ssh-keygen", append(args, msgFile)...))
		sig, err := os.ReadFile(msgFile + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		gitserver.NoErr(t, os.Remove(msgFile+".sig"))
		return sig
	}
	for _, hash := range []string{"", "sha256", "sha512"} {
		sig := sign("git", hash)
		if _, err := verifySSHSignature(sig, msg, "git", trusted); err != nil {
			t.Fatalf("hash %q: %v", hash, err)
		}
		if _, err := verifySSHSignature(sig, append(msg, 'x'), "git", trusted); err == nil {
			t.Fatalf("hash %q: a changed message verified", hash)
		}
	}
	if _, err := verifySSHSignature(sign("file", ""), msg, "git", trusted); err == nil {
		t.Fatal("a signature for another namespace verified")
	}
}

type sshPublicKey = ssh.PublicKey

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func runCmd(t *testing.T, name string, args ...string) error {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return nil
}
