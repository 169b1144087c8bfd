package kustomize

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/internal/decrypt"
	"github.com/gotk-dev/gotk/internal/decrypt/sopstest"
)

const plainPassword = "correct-horse-battery"

func ageKeys(t *testing.T, k sopstest.AgeKey) *decrypt.Keys {
	t.Helper()
	keys, err := decrypt.FromSecret(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sops-age"},
		Data:       map[string][]byte{"identity.agekey": []byte(sopstest.AgeKeyFile(k))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// writeEncryptedTree writes files under a new directory and returns it.
func writeEncryptedTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// An encrypted Secret among the resources and encrypted files of a
// secretGenerator (env, ini, JSON and binary) build decrypted, with the
// generated Secret's hash taken over the plaintext; the artifact on disk
// is left encrypted.
func TestBuildDecryptsResourcesAndGeneratorFiles(t *testing.T) {
	key := sopstest.NewAgeKey(t)
	opts := sopstest.Options{Age: []sopstest.AgeKey{key}}
	secretYAML := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + plainPassword + "\n"
	files := map[string][]byte{
		"app/kustomization.yaml": []byte(`resources:
  - db.yaml
secretGenerator:
  - name: env
    envs: [app.env]
  - name: files
    files:
      - app.ini
      - conf.json
      - tls.key
`),
		"app/db.yaml":   sopstest.Encrypt(t, "db.yaml", []byte(secretYAML), sopstest.Options{Age: opts.Age, EncryptedRegex: "^(data|stringData)$"}),
		"app/app.env":   sopstest.Encrypt(t, "app.env", []byte("PASSWORD="+plainPassword+"\n"), opts),
		"app/app.ini":   sopstest.Encrypt(t, "app.ini", []byte("[db]\npassword = "+plainPassword+"\n"), opts),
		"app/conf.json": sopstest.Encrypt(t, "conf.json", []byte(`{"password":"`+plainPassword+`"}`), opts),
		"app/tls.key":   sopstest.Encrypt(t, "tls.key", []byte("KEY "+plainPassword+"\n"), opts),
		// A directory without a kustomization file, as plain manifests.
		"plain/db.yaml": sopstest.Encrypt(t, "db.yaml", []byte(secretYAML), opts),
		"plain/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
	}
	root := writeEncryptedTree(t, files)
	spec := &kustomizev1.KustomizationSpec{Path: "./app"}

	res, err := BuildResult(context.Background(), root, spec, BuildOptions{Decryption: ageKeys(t, key)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Decrypted {
		t.Error("Result.Decrypted is false")
	}
	db := find(t, res.Objects, "Secret", "db")
	if got := field(t, db, "stringData", "password"); got != plainPassword {
		t.Errorf("Secret db: stringData.password %v", got)
	}
	if _, ok := db.Object["sops"]; ok {
		t.Error("Secret db still carries the sops metadata")
	}
	var env, gen map[string]any
	for _, o := range res.Objects {
		switch {
		case strings.HasPrefix(o.GetName(), "env-"):
			env = o.Object
		case strings.HasPrefix(o.GetName(), "files-"):
			gen = o.Object
		}
	}
	if env == nil || gen == nil {
		t.Fatalf("generated Secrets missing: %v", ids(res.Objects))
	}
	decoded := func(obj map[string]any, k string) string {
		v, _ := obj["data"].(map[string]any)[k].(string)
		b, _ := base64.StdEncoding.DecodeString(v)
		return string(b)
	}
	if got := decoded(env, "PASSWORD"); got != plainPassword {
		t.Errorf("env Secret: PASSWORD %q", got)
	}
	for k, want := range map[string]string{
		"app.ini":   "[db]\npassword = " + plainPassword + "\n",
		"conf.json": plainPassword,
		"tls.key":   "KEY " + plainPassword + "\n",
	} {
		if got := decoded(gen, k); !strings.Contains(got, want) {
			t.Errorf("files Secret: %s is %q, want it to hold %q", k, got, want)
		}
	}
	if got := res.Redact("oops: " + plainPassword); strings.Contains(got, plainPassword) {
		t.Errorf("Redact left the value: %s", got)
	}
	// Nothing decrypted was written next to the artifact.
	for name, data := range files {
		onDisk, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(onDisk) != string(data) {
			t.Errorf("%s changed on disk (%v)", name, err)
		}
	}

	for _, ns := range []string{"", "apps"} {
		res, err := BuildResult(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "./plain", TargetNamespace: ns}, BuildOptions{Decryption: ageKeys(t, key)})
		if err != nil {
			t.Fatalf("plain manifests (targetNamespace %q): %v", ns, err)
		}
		db := find(t, res.Objects, "Secret", "db")
		if got := field(t, db, "stringData", "password"); got != plainPassword || db.GetNamespace() != ns {
			t.Errorf("plain manifests (targetNamespace %q): Secret db in %q, stringData.password %v", ns, db.GetNamespace(), got)
		}
	}

	// Without keys, the build reads the files as they are.
	res, err = BuildResult(context.Background(), root, spec, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decrypted {
		t.Error("a build without keys says it decrypted")
	}
	for _, o := range res.Objects {
		if strings.HasPrefix(o.GetName(), "env-") && decoded(o.Object, "PASSWORD") == plainPassword {
			t.Error("a build without keys decrypted the env file")
		}
	}
}

// A failed decryption is the build's error, naming the file; a build that
// fails after decrypting does not quote the plaintext.
func TestBuildDecryptionErrors(t *testing.T) {
	right, wrong := sopstest.NewAgeKey(t), sopstest.NewAgeKey(t)
	opts := sopstest.Options{Age: []sopstest.AgeKey{right}}
	root := writeEncryptedTree(t, map[string][]byte{
		"app/kustomization.yaml": []byte("secretGenerator:\n  - name: env\n    envs: [app.env]\n"),
		"app/app.env":            sopstest.Encrypt(t, "app.env", []byte("PASSWORD="+plainPassword+"\n"), opts),
		"bad/kustomization.yaml": []byte("resources: [cm.yaml]\n"),
		// kustomize quotes the labels of an object without a name.
		"bad/cm.yaml": sopstest.Encrypt(t, "cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    a: "+plainPassword+"\n"), opts),
	})
	_, err := BuildResult(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "./app"}, BuildOptions{Decryption: ageKeys(t, wrong)})
	var derr *decrypt.Error
	if !errors.As(err, &derr) || !strings.Contains(err.Error(), "app/app.env: SOPS decryption failed: no key of Secret 'apps/sops-age' decrypts it") {
		t.Errorf("wrong key: %v", err)
	}

	_, err = BuildResult(context.Background(), root, &kustomizev1.KustomizationSpec{Path: "./bad"}, BuildOptions{Decryption: ageKeys(t, right)})
	if err == nil {
		t.Fatal("a ConfigMap without a name built")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "missing metadata.name") || strings.Contains(err.Error(), plainPassword) {
		t.Errorf("the build error does not say what is wrong, or quotes the plaintext: %v", err)
	}
	// kustomize's own message does quote it.
	c := newConfinedFS(root, false)
	c.keys = ageKeys(t, right)
	if _, _, raw := build(context.Background(), c, &kustomizev1.KustomizationSpec{Path: "./bad"}, BuildOptions{}); raw == nil || !strings.Contains(raw.Error(), plainPassword) {
		t.Errorf("kustomize's message no longer quotes the labels, so this test proves nothing: %v", raw)
	}
}
