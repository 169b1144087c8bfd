// Package decrypt decrypts SOPS-encrypted files with private keys held in
// memory: age identities and OpenPGP private keys, read from the Secret
// that a Kustomization's spec.decryption.secretRef names, or from local
// files for the CLI. Nothing it decrypts or reads is written to disk, and
// no GnuPG binary or keyring is used.
package decrypt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	corev1 "k8s.io/api/core/v1"
)

// The keys of a decryption Secret's data that hold keys, as Flux reads
// them.
const (
	// AgeKeySuffix ends the name of an entry holding age identities, one a
	// line.
	AgeKeySuffix = ".agekey"
	// PGPKeySuffix ends the name of an entry holding armored OpenPGP
	// private keys.
	PGPKeySuffix = ".asc"
	// VaultTokenKey names an entry holding a HashiCorp Vault token, which
	// gotk does not use.
	VaultTokenKey = "sops.vault-token"
)

// Keys are the private keys a decryption may use.
type Keys struct {
	// origin names where the keys came from, for messages.
	origin string
	age    []age.Identity
	pgp    openpgp.EntityList
	digest string
	// vaultToken is set when the keys came with a Vault token.
	vaultToken bool
}

// Origin names where the keys came from ("Secret ns/name").
func (k *Keys) Origin() string { return k.origin }

// Digest identifies the key material, so that a build made with other keys
// is not reused. It is a SHA-256 over the keys: it reveals nothing of
// them.
func (k *Keys) Digest() string { return k.digest }

// Empty reports whether there is no key at all.
func (k *Keys) Empty() bool { return len(k.age) == 0 && len(k.pgp) == 0 }

// FromSecret reads the keys of a decryption Secret: age identities in the
// entries named *.agekey, OpenPGP private keys in *.asc. Other entries are
// ignored. An entry that holds no valid key is an error that names the
// Secret and the entry, never its content.
func FromSecret(s *corev1.Secret) (*Keys, error) {
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	var entries []entry
	for name, v := range data {
		e := entry{name: fmt.Sprintf("data key %q", name), data: v}
		switch {
		case name == VaultTokenKey:
			e.kind = kindVault
		case strings.HasSuffix(name, AgeKeySuffix):
			e.kind = kindAge
		case strings.HasSuffix(name, PGPKeySuffix):
			e.kind = kindPGP
		default:
			continue
		}
		entries = append(entries, e)
	}
	return fromEntries(fmt.Sprintf("Secret '%s/%s'", s.Namespace, s.Name), entries)
}

// FromFiles reads keys from local files, for the CLI: a file that holds an
// armored OpenPGP private key block is read as OpenPGP keys, any other as
// age identities (the output of age-keygen).
func FromFiles(paths []string) (*Keys, error) {
	var entries []entry
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--decryption-key: %w", err)
		}
		e := entry{name: p, kind: kindAge, data: b}
		if bytes.Contains(b, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
			e.kind = kindPGP
		}
		entries = append(entries, e)
	}
	return fromEntries("--decryption-key "+strings.Join(paths, ", "), entries)
}

const (
	kindAge   = "age"
	kindPGP   = "pgp"
	kindVault = "vault"
)

// entry is one source of keys: a Secret's data key or a file.
type entry struct {
	name string // as the user knows it, for messages
	kind string
	data []byte
}

func fromEntries(origin string, entries []entry) (*Keys, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	k := &Keys{origin: origin}
	h := sha256.New()
	for _, e := range entries {
		switch e.kind {
		case kindVault:
			k.vaultToken = true
			continue
		case kindAge:
			ids, err := parseAge(e.data)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", origin, e.name, err)
			}
			k.age = append(k.age, ids...)
		case kindPGP:
			ents, err := parsePGP(e.data)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", origin, e.name, err)
			}
			k.pgp = append(k.pgp, ents...)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00", e.kind, e.name, len(e.data))
		h.Write(e.data)
	}
	k.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// parseAge reads age identities, one a line; empty lines and comments
// ("#") are skipped. Errors give the line number, never the line: it may
// be most of a private key.
func parseAge(data []byte) ([]age.Identity, error) {
	var ids []age.Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		var err error
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		default:
			return nil, fmt.Errorf("line %d is not an age identity (AGE-SECRET-KEY-1...)", n)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d is not a valid age identity", n)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no age identity in it")
	}
	return ids, nil
}

// parsePGP reads armored OpenPGP private keys. A key without its private
// part, or one that a passphrase protects, is refused: the controller has
// no one to ask for it.
func parsePGP(data []byte) (openpgp.EntityList, error) {
	ents, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an armored OpenPGP private key (gpg --export-secret-keys --armor): %w", err)
	}
	for _, e := range ents {
		fp := fingerprint(e.PrimaryKey.Fingerprint)
		if e.PrivateKey == nil {
			return nil, fmt.Errorf("OpenPGP key %s has no private key: export it with gpg --export-secret-keys --armor", fp)
		}
		if e.PrivateKey.Encrypted {
			return nil, fmt.Errorf("OpenPGP key %s is protected by a passphrase, which gotk cannot enter: export it without one", fp)
		}
		for _, sub := range e.Subkeys {
			if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
				return nil, fmt.Errorf("OpenPGP key %s has a subkey protected by a passphrase, which gotk cannot enter: export it without one", fp)
			}
		}
	}
	return ents, nil
}
