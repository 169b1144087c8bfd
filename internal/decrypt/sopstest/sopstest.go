// Package sopstest makes keys and SOPS-encrypted files for tests, with the
// SOPS library itself: age identities and OpenPGP keys are generated in the
// test, and files are encrypted as the sops command encrypts them.
package sopstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/kms"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// AgeKey is a generated age identity.
type AgeKey struct {
	// Identity is the private key, as age-keygen writes it.
	Identity string
	// Recipient is the public key.
	Recipient string
}

// NewAgeKey generates an age identity.
func NewAgeKey(t testing.TB) AgeKey {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return AgeKey{Identity: id.String(), Recipient: id.Recipient().String()}
}

// PGPKey is a generated OpenPGP key without a passphrase.
type PGPKey struct {
	// Private is the armored private key, as gpg --export-secret-keys
	// --armor writes it.
	Private string
	// Fingerprint is the key's fingerprint, as SOPS writes it.
	Fingerprint string
	pubring     string
}

// NewPGPKey generates an OpenPGP key.
func NewPGPKey(t testing.TB) *PGPKey {
	t.Helper()
	e, err := openpgp.NewEntity("gotk test", "", "test@gotk.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// SOPS encrypts for an OpenPGP key found in a public key ring file.
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(t.TempDir(), "pubring.gpg")
	if err := os.WriteFile(ring, pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &PGPKey{Private: priv.String(), Fingerprint: strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)), pubring: ring}
}

// Options choose the keys of an encrypted file.
type Options struct {
	Age []AgeKey
	PGP []*PGPKey
	// KMS adds AWS KMS keys of these ARNs. No AWS is reached: their
	// encrypted data key is made up, as only AWS could decrypt it anyway.
	KMS []string
	// EncryptedRegex encrypts only the values under matching keys, as
	// sops --encrypted-regex does ('^(data|stringData)$' for Secrets).
	EncryptedRegex string
}

// Encrypt encrypts plain, the content of a file called name (its
// extension chooses the format, as for the sops command), for the keys of
// opts, and returns the encrypted file.
func Encrypt(t testing.TB, name string, plain []byte, opts Options) []byte {
	t.Helper()
	type store interface {
		sops.PlainFileLoader
		sops.EncryptedFileEmitter
	}
	var st store
	switch formats.FormatForPath(name) {
	case formats.Yaml:
		st = sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case formats.Json:
		st = sopsjson.NewStore(&config.JSONStoreConfig{})
	case formats.Dotenv:
		st = dotenv.NewStore(&config.DotenvStoreConfig{})
	case formats.Ini:
		st = ini.NewStore(&config.INIStoreConfig{})
	default:
		st = sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{})
	}
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	var group sops.KeyGroup
	for _, k := range opts.Age {
		mk, err := sopsage.MasterKeyFromRecipient(k.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, mk)
	}
	for _, k := range opts.PGP {
		mk := pgp.NewMasterKeyFromFingerprint(k.Fingerprint)
		pgp.PubRing(k.pubring).ApplyToMasterKey(mk)
		group = append(group, mk)
	}
	for _, k := range group {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatal(err)
		}
	}
	for _, arn := range opts.KMS {
		mk := kms.NewMasterKeyFromArn(arn, nil, "")
		mk.EncryptedKey = "AQICAHgotkTestNotReallyEncryptedByAWS"
		group = append(group, keys.MasterKey(mk))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:      []sops.KeyGroup{group},
		EncryptedRegex: opts.EncryptedRegex,
		Version:        "3.13.3",
	}}
	if opts.EncryptedRegex == "" {
		tree.Metadata.UnencryptedSuffix = "_unencrypted"
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// AgeKeyFile is the content of a key file as age-keygen writes it.
func AgeKeyFile(k AgeKey) string {
	return "# created: 2026-01-01T00:00:00Z\n# public key: " + k.Recipient + "\n" + k.Identity + "\n"
}
