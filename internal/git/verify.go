package git

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// Mode says which objects of a checkout must carry a trusted signature.
type Mode string

// The verification modes of spec.verify.mode.
const (
	// ModeHEAD verifies the checked-out commit.
	ModeHEAD Mode = "HEAD"
	// ModeTag verifies the annotated tag of the ref.
	ModeTag Mode = "Tag"
	// ModeTagAndHEAD verifies the tag and the commit it points at.
	ModeTagAndHEAD Mode = "TagAndHEAD"
)

// ParseMode reads spec.verify.mode: "HEAD" (also "head" and empty), "Tag"
// or "TagAndHEAD".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "HEAD", "head":
		return ModeHEAD, nil
	case "Tag":
		return ModeTag, nil
	case "TagAndHEAD":
		return ModeTagAndHEAD, nil
	}
	return "", &InvalidError{Field: "spec.verify.mode", Err: fmt.Errorf("%q is not HEAD, Tag or TagAndHEAD", s)}
}

// Key kinds a Verification names.
const (
	// OpenPGPKey marks a key from an armored OpenPGP key block.
	OpenPGPKey = "OpenPGP"
	// SSHKey marks a key in authorized_keys format.
	SSHKey = "SSH"
)

// KeyRing holds the trusted public keys of a verification Secret.
type KeyRing struct {
	pgp openpgp.EntityList
	ssh []ssh.PublicKey
}

// ParseKeyRing reads every value of a Secret's data as armored OpenPGP
// public keys (one or more blocks) or SSH public keys in authorized_keys
// format (one a line), whatever the key's name. A value that is neither is
// an *InvalidError naming its key.
func ParseKeyRing(data map[string][]byte) (*KeyRing, error) {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	kr := &KeyRing{}
	for _, name := range names {
		v := data[name]
		if bytes.Contains(v, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
			list, err := readArmoredKeys(v)
			if err != nil {
				return nil, &InvalidError{Field: "verification secret key " + name, Err: err}
			}
			kr.pgp = append(kr.pgp, list...)
			continue
		}
		keys, err := readAuthorizedKeys(v)
		if err != nil {
			return nil, &InvalidError{Field: "verification secret key " + name, Err: err}
		}
		kr.ssh = append(kr.ssh, keys...)
	}
	if len(kr.pgp) == 0 && len(kr.ssh) == 0 {
		return nil, &InvalidError{Field: "verification secret", Err: errors.New("holds no public key")}
	}
	return kr, nil
}

// readArmoredKeys reads every armored key block in b.
func readArmoredKeys(b []byte) (openpgp.EntityList, error) {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	var out openpgp.EntityList
	s := string(b)
	for {
		i := strings.Index(s, begin)
		if i < 0 {
			break
		}
		s = s[i:]
		next := strings.Index(s[len(begin):], begin)
		block := s
		if next >= 0 {
			block = s[:len(begin)+next]
		}
		list, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
		if err != nil {
			return nil, fmt.Errorf("reading armored OpenPGP key: %w", err)
		}
		out = append(out, list...)
		if next < 0 {
			break
		}
		s = s[len(begin)+next:]
	}
	return out, nil
}

// readAuthorizedKeys reads SSH public keys, one a line; blank lines and
// comments are skipped.
func readAuthorizedKeys(b []byte) ([]ssh.PublicKey, error) {
	var out []ssh.PublicKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d is neither an armored OpenPGP key nor an SSH public key", n+1)
		}
		out = append(out, k)
	}
	return out, nil
}

// Verification says which trusted key verified which object.
type Verification struct {
	// Object is "commit" or "tag".
	Object string
	// Name is the commit hash or the tag name.
	Name string
	// KeyType is OpenPGPKey or SSHKey.
	KeyType string
	// KeyID identifies the key: the OpenPGP primary key fingerprint in
	// upper-case hex, or the SSH key's SHA256 fingerprint.
	KeyID string
}

// String describes the verification for a condition message or event.
func (v Verification) String() string {
	return fmt.Sprintf("%s %s verified with %s key %s", v.Object, v.Name, v.KeyType, v.KeyID)
}

// VerifyCommit checks that the commit is signed by a key in the ring.
func VerifyCommit(c *Commit, kr *KeyRing) (*Verification, error) {
	if c == nil {
		return nil, &VerificationError{Object: "commit", Name: "(none)", Err: errors.New("no commit to verify")}
	}
	return verify("commit", c.Hash, c.Signature, c.Encoded, kr)
}

// VerifyTag checks that the annotated tag is signed by a key in the ring.
func VerifyTag(t *Tag, kr *KeyRing) (*Verification, error) {
	if t == nil {
		return nil, &VerificationError{Object: "tag", Name: "(none)", Err: errors.New("the ref is not an annotated tag")}
	}
	return verify("tag", t.Name, t.Signature, t.Encoded, kr)
}

// Verify checks what mode asks of a checkout: the commit, its referencing
// tag, or both. Tag modes fail on a checkout that did not go through an
// annotated tag.
func Verify(c *Commit, mode Mode, kr *KeyRing) ([]Verification, error) {
	var out []Verification
	if mode == ModeTag || mode == ModeTagAndHEAD {
		if c == nil || c.ReferencingTag == nil {
			name := "(none)"
			if c != nil {
				name = c.Ref
			}
			return nil, &VerificationError{Object: "tag", Name: name,
				Err: fmt.Errorf("mode %s needs spec.ref.tag or spec.ref.semver naming an annotated tag", mode)}
		}
		v, err := VerifyTag(c.ReferencingTag, kr)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	if mode == ModeHEAD || mode == ModeTagAndHEAD || mode == "" || mode == "head" {
		v, err := VerifyCommit(c, kr)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

func verify(object, name, sig string, payload []byte, kr *KeyRing) (*Verification, error) {
	fail := func(err error) (*Verification, error) {
		return nil, &VerificationError{Object: object, Name: name, Err: err}
	}
	if kr == nil {
		return fail(errors.New("no trusted keys"))
	}
	switch {
	case sig == "":
		return fail(errors.New("not signed"))
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		if len(kr.pgp) == 0 {
			return fail(errors.New("signed with OpenPGP, but no trusted OpenPGP key is configured"))
		}
		signer, err := openpgp.CheckArmoredDetachedSignature(kr.pgp, bytes.NewReader(payload), strings.NewReader(sig), nil)
		if err != nil {
			return fail(fmt.Errorf("no trusted OpenPGP key verifies the signature: %w", err))
		}
		return &Verification{Object: object, Name: name, KeyType: OpenPGPKey,
			KeyID: strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint))}, nil
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		if len(kr.ssh) == 0 {
			return fail(errors.New("signed with SSH, but no trusted SSH key is configured"))
		}
		key, err := verifySSHSignature([]byte(sig), payload, gitNamespace, kr.ssh)
		if err != nil {
			return fail(err)
		}
		return &Verification{Object: object, Name: name, KeyType: SSHKey, KeyID: ssh.FingerprintSHA256(key)}, nil
	}
	return fail(errors.New("the signature is neither OpenPGP nor SSH"))
}
