package decrypt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/shamir"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Error is a file that could not be decrypted. Its message names the file
// and says why; it never holds a decrypted value.
type Error struct {
	// File is the path of the file, relative to the artifact root.
	File string
	// Reason says what went wrong.
	Reason string
	// Unsupported is set when the file can only be decrypted by a key
	// service that gotk does not support (cloud KMS, Vault): trying again
	// will not help.
	Unsupported bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: SOPS decryption failed: %s", e.File, e.Reason)
}

var (
	yamlMeta   = regexp.MustCompile(`(?m)^sops:\s*$`)
	jsonMeta   = regexp.MustCompile(`"sops"\s*:\s*\{`)
	dotenvMeta = regexp.MustCompile(`(?m)^sops_mac=`)
	iniMeta    = regexp.MustCompile(`(?m)^\[sops\]\s*$`)
)

// formatOf is the SOPS format of a file, chosen by its extension as the
// sops command does: .yaml and .yml, .json, .env, .ini, and binary for any
// other.
func formatOf(name string) formats.Format { return formats.FormatForPath(name) }

// Encrypted reports whether data, the content of the file name, is a
// SOPS-encrypted file: one that carries SOPS metadata with a MAC in the
// place its format keeps it. It is cheap for files that are not.
func Encrypted(name string, data []byte) bool {
	if !bytes.Contains(data, []byte("sops")) || !bytes.Contains(data, []byte("mac")) {
		return false
	}
	switch formatOf(name) {
	case formats.Yaml:
		return yamlMeta.Match(data)
	case formats.Dotenv:
		return dotenvMeta.Match(data)
	case formats.Ini:
		return iniMeta.Match(data)
	case formats.Json:
		return jsonMeta.Match(data) && hasJSONMetadata(data, false)
	default:
		// The binary format is a JSON document {"data": ..., "sops": ...}.
		return jsonMeta.Match(data) && hasJSONMetadata(data, true)
	}
}

// Encrypted is the package's Encrypted, so that Keys decrypt the files of
// a kustomize build (kustomize.Decrypter).
func (k *Keys) Encrypted(name string, data []byte) bool { return Encrypted(name, data) }

func hasJSONMetadata(data []byte, binary bool) bool {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return false
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(doc["sops"], &meta); err != nil || meta["mac"] == nil {
		return false
	}
	_, hasData := doc["data"]
	return !binary || hasData
}

// Decrypt decrypts data, the SOPS-encrypted content of the file name
// (relative to the artifact root, for messages; its extension chooses the
// format). It returns the plaintext as the sops command would write it,
// and the values that were encrypted, so that a message can be cleaned of
// them. The MAC is checked: a file changed after it was encrypted is
// refused.
func (k *Keys) Decrypt(name string, data []byte) (plain []byte, secrets []string, err error) {
	fail := func(format string, args ...any) error {
		return &Error{File: name, Reason: fmt.Sprintf(format, args...)}
	}
	store := storeFor(name)
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		if errors.Is(err, sops.MetadataNotFound) {
			return nil, nil, fail("no SOPS metadata in it")
		}
		return nil, nil, fail("cannot read it as an encrypted %s file: %v", formatName(name), err)
	}
	dataKey, err := k.dataKey(name, &tree.Metadata)
	if err != nil {
		return nil, nil, err
	}
	encrypted := encryptedLeaves(tree.Branches)
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, nil, fail("a value cannot be decrypted: the file is damaged or was edited by hand")
	}
	fileMAC, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, nil, fail("its MAC cannot be decrypted: the file is damaged or was edited by hand")
	}
	if fileMAC != mac {
		return nil, nil, fail("MAC mismatch: the file was changed after it was encrypted (edit it with sops, not by hand)")
	}
	out, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, nil, fail("cannot write the decrypted %s file", formatName(name))
	}
	return out, redactions(leafValues(tree.Branches, encrypted)), nil
}

// store is what gotk needs of a SOPS store.
type store interface {
	sops.EncryptedFileLoader
	sops.PlainFileEmitter
}

// storeFor returns the SOPS store of the file's format, with SOPS's
// defaults.
func storeFor(name string) store {
	switch formatOf(name) {
	case formats.Yaml:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case formats.Json:
		return sopsjson.NewStore(&config.JSONStoreConfig{})
	case formats.Dotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case formats.Ini:
		return ini.NewStore(&config.INIStoreConfig{})
	}
	return sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{})
}

func formatName(name string) string {
	switch formatOf(name) {
	case formats.Yaml:
		return "YAML"
	case formats.Json:
		return "JSON"
	case formats.Dotenv:
		return "dotenv"
	case formats.Ini:
		return "INI"
	}
	return "binary"
}

// keyServices name the key services of SOPS metadata that gotk cannot
// reach, by the identifier of their master keys.
var keyServices = map[string]string{
	"kms":      "AWS KMS",
	"gcp_kms":  "GCP KMS",
	"azure_kv": "Azure Key Vault",
	"hc_vault": "HashiCorp Vault",
	"hckms":    "Huawei Cloud KMS",
}

// dataKey recovers the data key of a file with the age and OpenPGP keys,
// combining the parts of several key groups (Shamir) as SOPS does.
func (k *Keys) dataKey(name string, m *sops.Metadata) ([]byte, error) {
	var parts [][]byte
	var recipients, unsupported []string
	for _, group := range m.KeyGroups {
		var part []byte
		for _, mk := range group {
			var err error
			switch key := mk.(type) {
			case *sopsage.MasterKey:
				recipients = append(recipients, "age recipient "+key.Recipient)
				if part == nil {
					part, err = k.decryptAge(key.EncryptedKey)
				}
			case *pgp.MasterKey:
				recipients = append(recipients, "OpenPGP key "+key.Fingerprint)
				if part == nil {
					part, err = k.decryptPGP(key.EncryptedKey)
				}
			default:
				service := keyServices[mk.TypeToIdentifier()]
				if service == "" {
					service = mk.TypeToIdentifier()
				}
				unsupported = append(unsupported, service+" "+mk.ToString())
			}
			if err != nil {
				part = nil
			}
		}
		if part != nil {
			parts = append(parts, part)
		}
	}
	if len(m.KeyGroups) > 1 {
		need := m.ShamirThreshold
		if need <= 0 {
			need = len(m.KeyGroups)
		}
		if len(parts) >= need {
			key, err := shamir.Combine(parts)
			if err == nil {
				return key, nil
			}
		}
	} else if len(parts) == 1 {
		return parts[0], nil
	}
	sort.Strings(recipients)
	sort.Strings(unsupported)
	if len(recipients) == 0 {
		reason := "it is encrypted only for " + strings.Join(unsupported, ", ") +
			", which gotk does not support: encrypt it for an age or OpenPGP key too (sops --rotate --in-place --add-age or --add-pgp)"
		if len(unsupported) == 0 {
			reason = "it names no key to decrypt it with"
		}
		if k.vaultToken {
			reason += " (a " + VaultTokenKey + " is not used: gotk does not support Vault)"
		}
		return nil, &Error{File: name, Reason: reason, Unsupported: len(unsupported) > 0}
	}
	var have string
	switch {
	case k.Empty() && k.origin != "":
		have = k.origin + " holds no age (*" + AgeKeySuffix + ") or OpenPGP (*" + PGPKeySuffix + ") key, so nothing"
	case k.origin != "":
		have = "no key of " + k.origin
	default:
		have = "no key"
	}
	reason := fmt.Sprintf("%s decrypts it: it is encrypted for %s", have, strings.Join(recipients, ", "))
	if len(m.KeyGroups) > 1 {
		reason += fmt.Sprintf(" in %d key groups, %d of which must be decrypted", len(m.KeyGroups), max(m.ShamirThreshold, 1))
	}
	if len(unsupported) > 0 {
		reason += ", and for " + strings.Join(unsupported, ", ") + ", which gotk does not support"
	}
	if k.vaultToken {
		reason += " (a " + VaultTokenKey + " is not used: gotk does not support Vault)"
	}
	return nil, &Error{File: name, Reason: reason}
}

func (k *Keys) decryptAge(enc string) ([]byte, error) {
	if len(k.age) == 0 {
		return nil, errors.New("no age identity")
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(enc)), k.age...)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func (k *Keys) decryptPGP(enc string) ([]byte, error) {
	if len(k.pgp) == 0 {
		return nil, errors.New("no OpenPGP key")
	}
	block, err := pgparmor.Decode(strings.NewReader(enc))
	if err != nil {
		return nil, err
	}
	md, err := openpgp.ReadMessage(block.Body, k.pgp, nil, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(md.UnverifiedBody)
}

// encryptedLeaves marks, in the order walkLeaves visits them, the leaves
// of an encrypted tree that hold cipher text.
func encryptedLeaves(branches sops.TreeBranches) []bool {
	var marks []bool
	for _, b := range branches {
		walkLeaves(b, func(v any) {
			s, ok := v.(string)
			marks = append(marks, ok && strings.HasPrefix(s, "ENC["))
		})
	}
	return marks
}

// leafValues returns the values of the marked leaves of the decrypted tree.
func leafValues(branches sops.TreeBranches, marks []bool) []string {
	var out []string
	i := 0
	for _, b := range branches {
		walkLeaves(b, func(v any) {
			if i < len(marks) && marks[i] {
				out = append(out, fmt.Sprint(v))
			}
			i++
		})
	}
	return out
}

func walkLeaves(v any, fn func(any)) {
	switch v := v.(type) {
	case sops.TreeBranch:
		for _, item := range v {
			if _, ok := item.Key.(sops.Comment); ok {
				continue
			}
			walkLeaves(item.Value, fn)
		}
	case []any:
		for _, e := range v {
			if _, ok := e.(sops.Comment); ok {
				continue
			}
			walkLeaves(e, fn)
		}
	case sops.Comment:
	default:
		fn(v)
	}
}

// minRedacted is the length under which a value is not redacted from
// messages: shorter strings occur everywhere, and replacing them would
// garble the message without hiding anything.
const minRedacted = 4

// redactions returns the strings to remove from messages for the given
// secret values: each value, its lines, and their quoted and base64
// forms.
func redactions(values []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minRedacted && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, v := range values {
		forms := []string{v}
		for _, line := range strings.Split(v, "\n") {
			forms = append(forms, strings.TrimSpace(line))
		}
		for _, f := range forms {
			add(f)
			add(strings.Trim(strconv.Quote(f), `"`))
			add(base64.StdEncoding.EncodeToString([]byte(f)))
		}
	}
	return out
}

// fingerprint formats an OpenPGP fingerprint as SOPS writes it.
func fingerprint(fp []byte) string { return strings.ToUpper(hex.EncodeToString(fp)) }

// None returns no keys; origin says why there are none, for messages.
func None(origin string) *Keys {
	return &Keys{origin: origin, digest: "none"}
}
