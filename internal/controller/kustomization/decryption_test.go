package kustomization

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/decrypt/sopstest"
	"github.com/gotk-dev/gotk/internal/runtime"
)

const secretsRegex = "^(data|stringData)$"

func passwordSecret(ns, name, value string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\nstringData:\n  password: " + value + "\n"
}

// secretValue returns data[key] of the Secret ns/name, "" when either is
// missing.
func secretValue(t *testing.T, ns, name, key string) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return ""
	}
	return string(s.Data[key])
}

// setKeys creates or replaces the decryption Secret ns/name.
func setKeys(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	err := env.Client.Create(context.Background(), s)
	if err == nil {
		return
	}
	old := &corev1.Secret{}
	if gerr := env.Client.Get(context.Background(), client.ObjectKeyFromObject(s), old); gerr != nil {
		t.Fatal(err)
	}
	old.Data, old.StringData = nil, data
	if err := env.Client.Update(context.Background(), old); err != nil {
		t.Fatal(err)
	}
}

// noLeak fails t when a plaintext shows in the Kustomization's status, in
// the events posted about it, or in a file the controllers wrote.
func noLeak(t *testing.T, key client.ObjectKey, plaintexts ...string) {
	t.Helper()
	k := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), key, k); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, c := range k.Status.Conditions {
		seen = append(seen, c.Message)
	}
	for _, ev := range events.of(key.Namespace, key.Name) {
		seen = append(seen, ev.Message)
		for _, v := range ev.Metadata {
			seen = append(seen, v)
		}
	}
	for _, h := range k.Status.History {
		seen = append(seen, h.Digest)
	}
	for _, s := range seen {
		for _, p := range plaintexts {
			if strings.Contains(s, p) {
				t.Errorf("plaintext %q in the status or events: %s", p, s)
			}
		}
	}
	err := filepath.WalkDir(workDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // a cache entry removed while walking
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, p := range plaintexts {
			if strings.Contains(string(data), p) {
				t.Errorf("plaintext %q on disk in %s", p, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An encrypted Secret (OpenPGP) and an encrypted env file of a
// secretGenerator (age) reach the cluster decrypted, and nothing of their
// plaintext shows in the status, the events or on disk. Files re-encrypted
// for a new key fail until the key Secret holds that key, and the next
// reconcile after it does applies them.
func TestDecryptionAppliesDecryptedSecretsAndFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ageKey, pgpKey := sopstest.NewAgeKey(t), sopstest.NewPGPKey(t)
	const dbPassword, envPassword = "pgp-plaintext-7731", "age-plaintext-4410"
	files := func(dbValue, envValue string, age sopstest.AgeKey, pgp *sopstest.PGPKey) map[string]string {
		return map[string]string{
			"deploy/kustomization.yaml": "namespace: " + ns + "\nresources: [db.yaml]\nsecretGenerator:\n  - name: app-env\n    envs: [app.env]\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
			"deploy/db.yaml": string(sopstest.Encrypt(t, "db.yaml", []byte(passwordSecret(ns, "db", dbValue)),
				sopstest.Options{PGP: []*sopstest.PGPKey{pgp}, EncryptedRegex: secretsRegex})),
			"deploy/app.env": string(sopstest.Encrypt(t, "app.env", []byte("PASSWORD="+envValue+"\n"), sopstest.Options{Age: []sopstest.AgeKey{age}})),
		}
	}
	setKeys(t, ns, "sops-keys", map[string]string{"identity.agekey": sopstest.AgeKeyFile(ageKey), "private.asc": pgpKey.Private})
	r := newRepo(t, ns, files(dbPassword, envPassword, ageKey, pgpKey))
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.Decryption = &kustomizev1.Decryption{Provider: kustomizev1.DecryptionProviderSOPS, SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
	})
	first := r.head()
	appliedAt(t, key, first)
	if got := secretValue(t, ns, "db", "password"); got != dbPassword {
		t.Errorf("Secret db: password %q, want the decrypted %q", got, dbPassword)
	}
	if got := secretValue(t, ns, "app-env", "PASSWORD"); got != envPassword {
		t.Errorf("Secret app-env: PASSWORD %q, want the decrypted %q", got, envPassword)
	}
	eventually(t, "an event", func() bool { return len(events.of(ns, "app")) >= 1 })
	noLeak(t, key, dbPassword, envPassword)

	// Rotation: the files are re-encrypted for new keys, which the key
	// Secret does not hold yet. Nothing of that revision is applied.
	newAge, newPGP := sopstest.NewAgeKey(t), sopstest.NewPGPKey(t)
	const newDB, newEnv = "pgp-rotated-5512", "age-rotated-9021"
	rotated := r.push(files(newDB, newEnv, newAge, newPGP))
	ks := waitKs(t, key, "failed at the rotated revision", func(k *kustomizev1.Kustomization) bool {
		return runtime.IsFalse(k, meta.ReadyCondition) && k.Status.LastAttemptedRevision == rotated
	})
	wantContains(t, "Ready message", readyMessage(ks), "SOPS decryption failed", "no key of Secret '"+ns+"/sops-keys' decrypts it")
	if ks.Status.LastAppliedRevision != first || secretValue(t, ns, "db", "password") != dbPassword || secretValue(t, ns, "app-env", "PASSWORD") != envPassword {
		t.Errorf("the rotated revision was applied in part: lastAppliedRevision %s", ks.Status.LastAppliedRevision)
	}

	setKeys(t, ns, "sops-keys", map[string]string{"identity.agekey": sopstest.AgeKeyFile(newAge), "private.asc": newPGP.Private})
	requestReconcile(t, key)
	appliedAt(t, key, rotated)
	if got := secretValue(t, ns, "db", "password"); got != newDB {
		t.Errorf("Secret db after rotation: password %q, want %q", got, newDB)
	}
	if got := secretValue(t, ns, "app-env", "PASSWORD"); got != newEnv {
		t.Errorf("Secret app-env after rotation: PASSWORD %q, want %q", got, newEnv)
	}
	noLeak(t, key, dbPassword, envPassword, newDB, newEnv)
}

// Decryption's bad input fails with a message that names the cause, and
// nothing of the bad revision is applied: the wrong key, a missing key
// Secret, a file changed after it was encrypted, a file only a cloud KMS
// could decrypt (Stalled), and a service account for KMS (Stalled).
func TestDecryptionBadInputKeepsLastGoodRevision(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	right, wrong := sopstest.NewAgeKey(t), sopstest.NewAgeKey(t)
	setKeys(t, ns, "sops-keys", map[string]string{"identity.agekey": right.Identity})
	r := newRepo(t, ns, map[string]string{
		"deploy/a.yaml":   configMap(ns, "a", "one"),
		"deploy/svc.yaml": serviceManifest(ns, "web", 80),
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.Decryption = &kustomizev1.Decryption{Provider: kustomizev1.DecryptionProviderSOPS, SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
	})
	b := &badInput{t: t, ns: ns, key: key, good: r.head()}
	appliedAt(t, key, b.good)
	restore := func(mutate func(*kustomizev1.Kustomization)) {
		t.Helper()
		updateKs(t, key, mutate)
		appliedAt(t, key, b.good)
	}
	stalled := func() {
		t.Helper()
		waitKs(t, key, "stalled", func(k *kustomizev1.Kustomization) bool { return runtime.IsTrue(k, meta.StalledCondition) })
	}

	t.Run("missing key Secret", func(t *testing.T) {
		updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.Decryption.SecretRef.Name = "absent" })
		b.failsWith(b.good, meta.BuildFailedReason, "spec.decryption.secretRef: Secret '"+ns+"/absent' not found")
		restore(func(k *kustomizev1.Kustomization) { k.Spec.Decryption.SecretRef.Name = "sops-keys" })
	})
	t.Run("service account", func(t *testing.T) {
		updateKs(t, key, func(k *kustomizev1.Kustomization) { k.Spec.Decryption.ServiceAccountName = "kms" })
		b.failsWith(b.good, meta.InvalidSpecReason, `spec.decryption.serviceAccountName "kms"`, "not supported")
		stalled()
		restore(func(k *kustomizev1.Kustomization) { k.Spec.Decryption.ServiceAccountName = "" })
	})

	const plain = "bad-input-plaintext-3321"
	secret := []byte(passwordSecret(ns, "s", plain))
	tampered := strings.Replace(string(sopstest.Encrypt(t, "s.yaml", secret, sopstest.Options{Age: []sopstest.AgeKey{right}, EncryptedRegex: secretsRegex})),
		"name: s", "name: t", 1)
	for _, tc := range []struct {
		name, content string
		stalled       bool
		parts         []string
	}{
		{"wrong key", string(sopstest.Encrypt(t, "s.yaml", secret, sopstest.Options{Age: []sopstest.AgeKey{wrong}, EncryptedRegex: secretsRegex})), false,
			[]string{"deploy/s.yaml: SOPS decryption failed", "no key of Secret '" + ns + "/sops-keys' decrypts it", wrong.Recipient}},
		{"tampered file", tampered, false, []string{"deploy/s.yaml: SOPS decryption failed", "MAC mismatch"}},
		{"unsupported provider", string(sopstest.Encrypt(t, "s.yaml", secret, sopstest.Options{KMS: []string{"arn:aws:kms:eu-west-1:111122223333:key/gotk"}, EncryptedRegex: secretsRegex})), true,
			[]string{"deploy/s.yaml: SOPS decryption failed", "AWS KMS arn:aws:kms:eu-west-1:111122223333:key/gotk", "which gotk does not support"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := r.push(map[string]string{"deploy/s.yaml": tc.content, "deploy/a.yaml": configMap(ns, "a", "two")})
			b.failsWith(rev, meta.BuildFailedReason, tc.parts...)
			if tc.stalled {
				stalled()
			}
			if secretValue(t, ns, "s", "password") != "" {
				t.Error("the Secret of the bad revision was applied")
			}
			r.push(map[string]string{"deploy/s.yaml": "", "deploy/a.yaml": configMap(ns, "a", "one")})
			b.good = r.head()
			appliedAt(t, key, b.good)
			b.intact()
		})
	}
	noLeak(t, key, plain)
}
