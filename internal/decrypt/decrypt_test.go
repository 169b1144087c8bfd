package decrypt_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/internal/decrypt"
	"github.com/gotk-dev/gotk/internal/decrypt/sopstest"
	"github.com/gotk-dev/gotk/internal/runtime"
)

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: correct-horse-battery
`

func keySecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sops-keys"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func mustKeys(t *testing.T, s *corev1.Secret) *decrypt.Keys {
	t.Helper()
	k, err := decrypt.FromSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Each format that kustomize reads decrypts back to what was encrypted,
// with an age key and with an OpenPGP key.
func TestDecryptEveryFormatWithAgeAndOpenPGP(t *testing.T) {
	ageKey := sopstest.NewAgeKey(t)
	pgpKey := sopstest.NewPGPKey(t)
	files := map[string]string{
		"secret.yaml":  secretYAML,
		"secret.json":  `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"correct-horse-battery"}}`,
		"app.env":      "PASSWORD=correct-horse-battery\nUSER=admin\n",
		"app.ini":      "[db]\npassword = correct-horse-battery\n",
		"tls.key":      "-----BEGIN PRIVATE KEY-----\ncorrect-horse-battery\n-----END PRIVATE KEY-----\n",
		"settings.yml": "password: correct-horse-battery\n",
	}
	for _, tc := range []struct {
		name string
		opts sopstest.Options
		keys *decrypt.Keys
	}{
		{"age", sopstest.Options{Age: []sopstest.AgeKey{ageKey}}, mustKeys(t, keySecret(map[string]string{"identity.agekey": sopstest.AgeKeyFile(ageKey)}))},
		{"openpgp", sopstest.Options{PGP: []*sopstest.PGPKey{pgpKey}}, mustKeys(t, keySecret(map[string]string{"key.asc": pgpKey.Private}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, plain := range files {
				enc := sopstest.Encrypt(t, name, []byte(plain), tc.opts)
				if bytes.Contains(enc, []byte("correct-horse-battery")) {
					t.Fatalf("%s: the encrypted file holds the plaintext:\n%s", name, enc)
				}
				if !decrypt.Encrypted(name, enc) {
					t.Fatalf("%s: not seen as encrypted:\n%s", name, enc)
				}
				if decrypt.Encrypted(name, []byte(plain)) {
					t.Errorf("%s: the plain file is seen as encrypted", name)
				}
				got, secrets, err := tc.keys.Decrypt(name, enc)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !strings.Contains(string(got), "correct-horse-battery") {
					t.Errorf("%s: decrypted to\n%s", name, got)
				}
				if redacted := runtime.Redact("value correct-horse-battery here", secrets); strings.Contains(redacted, "correct") {
					t.Errorf("%s: the secret value is not redacted: %s", name, redacted)
				}
			}
		})
	}
}

func decryptErr(t *testing.T, keys *decrypt.Keys, name string, data []byte) *decrypt.Error {
	t.Helper()
	_, _, err := keys.Decrypt(name, data)
	var derr *decrypt.Error
	if !errors.As(err, &derr) {
		t.Fatalf("want a *decrypt.Error, got %v", err)
	}
	if strings.Contains(err.Error(), "correct-horse-battery") {
		t.Errorf("the message holds the plaintext: %v", err)
	}
	t.Log(err)
	return derr
}

// The wrong key, a file edited after encryption, and a file only a cloud
// KMS could decrypt each fail with a message naming the file and the
// cause; only the last is reported as unsupported.
func TestDecryptFailuresSayWhy(t *testing.T) {
	right, wrong := sopstest.NewAgeKey(t), sopstest.NewAgeKey(t)
	enc := sopstest.Encrypt(t, "db.yaml", []byte(secretYAML), sopstest.Options{Age: []sopstest.AgeKey{right}, EncryptedRegex: "^(data|stringData)$"})

	wrongKeys := mustKeys(t, keySecret(map[string]string{"age.agekey": wrong.Identity}))
	e := decryptErr(t, wrongKeys, "deploy/db.yaml", enc)
	if e.Unsupported || !strings.Contains(e.Error(), "deploy/db.yaml") || !strings.Contains(e.Error(), "no key of Secret 'apps/sops-keys' decrypts it") ||
		!strings.Contains(e.Error(), right.Recipient) {
		t.Errorf("wrong key: %v", e)
	}

	tampered := bytes.Replace(enc, []byte("name: db"), []byte("name: dc"), 1)
	rightKeys := mustKeys(t, keySecret(map[string]string{"age.agekey": right.Identity}))
	e = decryptErr(t, rightKeys, "deploy/db.yaml", tampered)
	if e.Unsupported || !strings.Contains(e.Error(), "MAC mismatch") {
		t.Errorf("tampered: %v", e)
	}

	kmsOnly := sopstest.Encrypt(t, "db.yaml", []byte(secretYAML), sopstest.Options{KMS: []string{"arn:aws:kms:eu-west-1:111122223333:key/gotk-test"}})
	e = decryptErr(t, rightKeys, "deploy/db.yaml", kmsOnly)
	if !e.Unsupported || !strings.Contains(e.Error(), "AWS KMS arn:aws:kms:eu-west-1:111122223333:key/gotk-test") || !strings.Contains(e.Error(), "does not support") {
		t.Errorf("kms: %v", e)
	}

	// A file for both a cloud KMS and an age key decrypts with the age key.
	both := sopstest.Encrypt(t, "db.yaml", []byte(secretYAML), sopstest.Options{Age: []sopstest.AgeKey{right}, KMS: []string{"arn:aws:kms:eu-west-1:111122223333:key/gotk-test"}})
	if _, _, err := rightKeys.Decrypt("db.yaml", both); err != nil {
		t.Errorf("age and KMS: %v", err)
	}

	empty := mustKeys(t, keySecret(map[string]string{"other": "x"}))
	e = decryptErr(t, empty, "deploy/db.yaml", enc)
	if !strings.Contains(e.Error(), "holds no age (*.agekey) or OpenPGP (*.asc) key") {
		t.Errorf("no keys: %v", e)
	}
}

// A key entry that holds no key is refused with the Secret and entry
// named, and never the content.
func TestKeysFromSecretRefusesBadEntries(t *testing.T) {
	for name, data := range map[string]string{
		"bad.agekey": "AGE-SECRET-KEY-1NOTAKEYATALLBUTSOMETHINGSECRETLOOKING",
		"bad.asc":    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key\n-----END PGP PRIVATE KEY BLOCK-----\n",
	} {
		_, err := decrypt.FromSecret(keySecret(map[string]string{name: data}))
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "Secret 'apps/sops-keys'") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), "SOMETHINGSECRET") || strings.Contains(err.Error(), "not a key") {
			t.Errorf("%s: the message holds the key's content: %v", name, err)
		}
	}
}

// --decryption-key files: an age-keygen file and an armored OpenPGP key.
func TestKeysFromFiles(t *testing.T) {
	ageKey, pgpKey := sopstest.NewAgeKey(t), sopstest.NewPGPKey(t)
	dir := t.TempDir()
	agePath, pgpPath := filepath.Join(dir, "age.txt"), filepath.Join(dir, "key.asc")
	if err := os.WriteFile(agePath, []byte(sopstest.AgeKeyFile(ageKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pgpPath, []byte(pgpKey.Private), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := decrypt.FromFiles([]string{agePath, pgpPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []sopstest.Options{{Age: []sopstest.AgeKey{ageKey}}, {PGP: []*sopstest.PGPKey{pgpKey}}} {
		enc := sopstest.Encrypt(t, "app.env", []byte("A=correct-horse-battery\n"), opts)
		got, _, err := keys.Decrypt("app.env", enc)
		if err != nil || string(got) != "A=correct-horse-battery\n" {
			t.Errorf("got %q, %v", got, err)
		}
	}
}
