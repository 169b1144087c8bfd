package gitserver

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGPKey is an OpenPGP key generated with go-crypto and imported into
// a GNUPGHOME of its own, so that git signs with the real gpg.
type OpenPGPKey struct {
	// Entity is the key, private half included.
	Entity *openpgp.Entity
	// PublicArmored is the armored public key, as a verification Secret
	// holds it.
	PublicArmored []byte
	// Fingerprint is the primary key's fingerprint in upper-case hex.
	Fingerprint string
	// KeyID is the primary key's 64-bit ID in upper-case hex.
	KeyID string
	// GnuPGHome is the directory gpg keeps the key in.
	GnuPGHome string
}

// NewOpenPGPKey generates an ed25519 OpenPGP key for name <email> and
// imports it into a new GNUPGHOME under the system temporary directory
// (kept short: gpg-agent's socket lives there). Close removes it.
func NewOpenPGPKey(name, email string) (*OpenPGPKey, error) {
	if _, err := exec.LookPath("gpg"); err != nil {
		return nil, fmt.Errorf("signing with OpenPGP needs gpg: %w", err)
	}
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA256,
		KeyLifetimeSecs: 0,
	}
	e, err := openpgp.NewEntity(name, "gotk test key", email, cfg)
	if err != nil {
		return nil, fmt.Errorf("generating OpenPGP key: %w", err)
	}
	var priv, pub bytes.Buffer
	aw, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.SerializePrivate(aw, cfg); err != nil {
		return nil, fmt.Errorf("serializing OpenPGP private key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	aw, err = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.Serialize(aw); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		return nil, err
	}
	k := &OpenPGPKey{
		Entity:        e,
		PublicArmored: pub.Bytes(),
		Fingerprint:   strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint)),
		KeyID:         e.PrimaryKey.KeyIdString(),
		GnuPGHome:     home,
	}
	if _, err := run(home, k.env(), bytes.NewReader(priv.Bytes()), "gpg", "--batch", "--quiet", "--import"); err != nil {
		_ = k.Close()
		return nil, err
	}
	// Trust the key fully so gpg does not warn about it.
	trust := strings.NewReader(k.Fingerprint + ":6:\n")
	if _, err := run(home, k.env(), trust, "gpg", "--batch", "--quiet", "--import-ownertrust"); err != nil {
		_ = k.Close()
		return nil, err
	}
	return k, nil
}

// NewOpenPGPKeyT is NewOpenPGPKey for a test: it fails the test on error
// and closes the key when the test ends.
func NewOpenPGPKeyT(t testing.TB, name, email string) *OpenPGPKey {
	t.Helper()
	SkipShort(t)
	k, err := NewOpenPGPKey(name, email)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// Close stops the gpg-agent that signing started and removes GnuPGHome.
func (k *OpenPGPKey) Close() error {
	_, _ = run(k.GnuPGHome, k.env(), nil, "gpgconf", "--kill", "all")
	return os.RemoveAll(k.GnuPGHome)
}

func (k *OpenPGPKey) env() []string { return []string{"GNUPGHOME=" + k.GnuPGHome} }

func (k *OpenPGPKey) gitConfig() []string {
	return []string{"gpg.format=openpgp", "gpg.program=gpg", "user.signingkey=" + k.Fingerprint}
}

// SSHSigningKey signs commits and tags with an SSH key through
// `ssh-keygen -Y sign` (git's gpg.format=ssh).
type SSHSigningKey struct {
	*SSHKey
}

// NewSSHSigningKey generates an ed25519 key under dir for signing.
func NewSSHSigningKey(dir string) (*SSHSigningKey, error) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		return nil, fmt.Errorf("signing with SSH keys needs ssh-keygen (openssh-client): %w", err)
	}
	k, err := NewSSHKey(dir)
	if err != nil {
		return nil, err
	}
	return &SSHSigningKey{SSHKey: k}, nil
}

func (k *SSHSigningKey) env() []string { return nil }

func (k *SSHSigningKey) gitConfig() []string {
	return []string{"gpg.format=ssh", "gpg.ssh.program=ssh-keygen", "user.signingkey=" + k.Path}
}
