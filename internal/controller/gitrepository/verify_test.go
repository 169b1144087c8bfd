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

// verifyWith asks for verification in mode against the keys in the
// Secret name.
func verifyWith(mode sourcev1.GitVerificationMode, secret string, ref *sourcev1.GitRepositoryRef) func(*sourcev1.GitRepository) {
	return func(o *sourcev1.GitRepository) {
		o.Spec.Reference = ref
		o.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: mode, SecretRef: meta.LocalObjectReference{Name: secret}}
	}
}

func sshFingerprint(k *gs.SSHSigningKey) string { return ssh.FingerprintSHA256(k.Public) }

// Signed commits and tags, with OpenPGP and SSH keys, verify in each mode,
// and SourceVerified names the key that verified each object.
func TestVerifySigned(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	pgp := gs.NewOpenPGPKeyT(t, "Trusted Signer", "trusted@gotk.invalid")
	sk := gs.Must[*gs.SSHSigningKey](t)(gs.NewSSHSigningKey(t.TempDir()))
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "signed.git", map[string]string{"README.md": "signed\n"})
	w.SignWith(pgp)
	pgpCommit := must(w.CommitFiles("signed with OpenPGP", map[string]string{"a.yaml": "a: 1\n"}))
	must(w.AnnotatedTag("v1.0.0", "release 1.0.0"))
	w.SignWith(sk)
	sshCommit := must(w.CommitFiles("signed with SSH", map[string]string{"b.yaml": "b: 1\n"}))
	must(w.AnnotatedTag("v2.0.0", "release 2.0.0"))
	gs.NoErr(t, w.Push("origin"))
	newSecret(t, ns, "keys", map[string][]byte{"author.asc": pgp.PublicArmored, "author.sshpub": sk.AuthorizedKey})

	tests := []struct {
		name     string
		mode     sourcev1.GitVerificationMode
		ref      *sourcev1.GitRepositoryRef
		revision string
		want     []string
	}{
		{"openpgp-head", sourcev1.ModeGitHEAD, &sourcev1.GitRepositoryRef{Commit: pgpCommit}, "sha1:" + pgpCommit,
			[]string{"commit " + pgpCommit + " verified with OpenPGP key " + pgp.Fingerprint}},
		{"ssh-head", sourcev1.ModeGitHEAD, nil, gs.DefaultBranch + "@sha1:" + sshCommit,
			[]string{"commit " + sshCommit + " verified with SSH key " + sshFingerprint(sk)}},
		{"openpgp-tag", sourcev1.ModeGitTag, &sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@sha1:" + pgpCommit,
			[]string{"tag v1.0.0 verified with OpenPGP key " + pgp.Fingerprint}},
		{"ssh-tag-and-head", sourcev1.ModeGitTagAndHEAD, &sourcev1.GitRepositoryRef{SemVer: "2.x"}, "v2.0.0@sha1:" + sshCommit,
			[]string{"tag v2.0.0 verified with SSH key " + sshFingerprint(sk), "commit " + sshCommit + " verified with SSH key " + sshFingerprint(sk)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := newRepo(t, ns, tt.name, srv.RepoURL("signed.git"), verifyWith(tt.mode, "keys", tt.ref))
			obj := readyAt(t, key, tt.revision)
			if !runtime.IsTrue(obj, meta.SourceVerifiedCondition) {
				t.Fatalf("SourceVerified not True: %+v", obj.Status.Conditions)
			}
			if diff := cmp.Diff(strings.Join(tt.want, "; "), runtime.Message(obj, meta.SourceVerifiedCondition)); diff != "" {
				t.Errorf("SourceVerified message (-want +got):\n%s", diff)
			}
			if m := obj.Status.SourceVerificationMode; m == nil || *m != tt.mode {
				t.Errorf("sourceVerificationMode %v, want %s", m, tt.mode)
			}
		})
	}

	// A Tag mode on a branch has no tag to verify.
	t.Run("tag-mode-on-branch", func(t *testing.T) {
		t.Parallel()
		key := newRepo(t, ns, "tag-mode-on-branch", srv.RepoURL("signed.git"), verifyWith(sourcev1.ModeGitTag, "keys", nil))
		obj := failedWith(t, key, meta.VerificationErrorReason)
		if msg := readyMessage(obj); !strings.Contains(msg, "spec.ref.tag") {
			t.Errorf("message does not say a tag ref is needed: %s", msg)
		}
	})
}

// An unsigned commit, or one signed by a key the Secret does not trust,
// produces no artifact: the last verified one stays, and a properly signed
// commit recovers.
func TestVerifyRefusesUntrusted(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	must := gs.Must[string](t)
	pgp := gs.NewOpenPGPKeyT(t, "Trusted Signer", "trusted@gotk.invalid")
	stranger := gs.NewOpenPGPKeyT(t, "Someone Else", "else@gotk.invalid")
	strangerSSH := gs.Must[*gs.SSHSigningKey](t)(gs.NewSSHSigningKey(t.TempDir()))
	srv := gs.StartHTTP(t, t.TempDir(), gs.HTTPOptions{})
	w := gs.MustSeed(t, srv.Root, "app.git", map[string]string{"README.md": "app\n"})
	w.SignWith(pgp)
	good := must(w.CommitFiles("signed", map[string]string{"app.yaml": "a: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	newSecret(t, ns, "keys", map[string][]byte{"author.asc": pgp.PublicArmored})

	key := newRepo(t, ns, "app", srv.RepoURL("app.git"), verifyWith(sourcev1.ModeGitHEAD, "keys", nil))
	last := *readyAt(t, key, gs.DefaultBranch+"@sha1:"+good).Status.Artifact

	refused := func(t *testing.T, commit, wantMsg string) {
		t.Helper()
		gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
		requestReconcile(t, key)
		obj := waitFor(t, key, func(o *sourcev1.GitRepository) bool {
			return runtime.Reason(o, meta.ReadyCondition) == meta.VerificationErrorReason &&
				strings.Contains(readyMessage(o), commit)
		})
		t.Logf("Ready=False %s: %s", meta.VerificationErrorReason, readyMessage(obj))
		if runtime.IsTrue(obj, meta.ReadyCondition) || !runtime.IsFalse(obj, meta.SourceVerifiedCondition) {
			t.Errorf("Ready and SourceVerified should be False: %+v", obj.Status.Conditions)
		}
		if msg := readyMessage(obj); !strings.Contains(msg, wantMsg) {
			t.Errorf("message %q does not say %q", msg, wantMsg)
		}
		if diff := cmp.Diff(&last, obj.Status.Artifact); diff != "" {
			t.Errorf("the verified artifact was replaced:\n%s", diff)
		}
		download(t, obj.Status.Artifact)
		for _, f := range storedFiles(t, key) {
			if strings.HasPrefix(f, commit) {
				t.Errorf("an artifact was stored for the refused commit %s: %s", commit, f)
			}
		}
	}

	w.SignWith(nil)
	refused(t, must(w.CommitFiles("unsigned", map[string]string{"b.yaml": "b: 1\n"})), "not signed")
	w.SignWith(stranger)
	refused(t, must(w.CommitFiles("signed by a stranger", map[string]string{"c.yaml": "c: 1\n"})), "no trusted OpenPGP key")
	w.SignWith(strangerSSH)
	refused(t, must(w.CommitFiles("signed by a stranger's SSH key", map[string]string{"d.yaml": "d: 1\n"})), "no trusted SSH key")

	w.SignWith(pgp)
	next := must(w.CommitFiles("signed again", map[string]string{"e.yaml": "e: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	requestReconcile(t, key)
	obj := readyAt(t, key, gs.DefaultBranch+"@sha1:"+next)
	if !runtime.IsTrue(obj, meta.SourceVerifiedCondition) {
		t.Errorf("SourceVerified not True after recovery: %+v", obj.Status.Conditions)
	}

	// A new object whose first revision is untrusted has no artifact at all.
	w.SignWith(stranger)
	bad := must(w.CommitFiles("stranger again", map[string]string{"f.yaml": "f: 1\n"}))
	gs.NoErr(t, w.Push("origin", gs.DefaultBranch))
	k := newRepo(t, ns, "fresh", srv.RepoURL("app.git"), verifyWith(sourcev1.ModeGitHEAD, "keys", nil))
	obj = failedWith(t, k, meta.VerificationErrorReason)
	if !strings.Contains(readyMessage(obj), bad) {
		t.Errorf("message does not name the commit %s: %s", bad, readyMessage(obj))
	}
	if obj.Status.Artifact != nil || len(storedFiles(t, k)) != 0 {
		t.Errorf("an untrusted revision was stored: %+v %v", obj.Status.Artifact, storedFiles(t, k))
	}

	// A verification Secret without keys is reported as such.
	newSecret(t, ns, "empty", map[string][]byte{"notes": []byte("# nothing here\n")})
	k = newRepo(t, ns, "no-keys", srv.RepoURL("app.git"), verifyWith(sourcev1.ModeGitHEAD, "empty", nil))
	obj = failedWith(t, k, meta.VerificationErrorReason)
	if msg := readyMessage(obj); !strings.Contains(msg, "holds no public key") {
		t.Errorf("message does not say the Secret holds no key: %s", msg)
	}
}
