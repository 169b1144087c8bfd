package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/decrypt/sopstest"
)

// impersonatingKubeconfig writes a copy of the test kubeconfig that acts
// as user.
func impersonatingKubeconfig(t *testing.T, user string) string {
	t.Helper()
	objects(t)
	cfg, err := clientcmd.LoadFromFile(objKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].Impersonate = user
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// gotk build and gotk diff of a Kustomization with spec.decryption decrypt
// its SOPS-encrypted files, with --decryption-key or with the keys of its
// Secret when the user may read it, and print no secret value.
func TestBuildAndDiffDecryptKustomization(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	const dbPassword, envPassword = "cli-pgp-plaintext-6620", "cli-age-plaintext-1187"
	ageKey, pgpKey := sopstest.NewAgeKey(t), sopstest.NewPGPKey(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"kustomization.yaml": "resources: [db.yaml]\nsecretGenerator:\n  - name: app-env\n    envs: [app.env]\n",
		"db.yaml": string(sopstest.Encrypt(t, "db.yaml",
			[]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: "+dbPassword+"\n"),
			sopstest.Options{PGP: []*sopstest.PGPKey{pgpKey}, EncryptedRegex: "^(data|stringData)$"})),
		"app.env": string(sopstest.Encrypt(t, "app.env", []byte("PASSWORD="+envPassword+"\n"), sopstest.Options{Age: []sopstest.AgeKey{ageKey}})),
	})
	keyDir := t.TempDir()
	writeFiles(t, keyDir, map[string]string{"age.txt": sopstest.AgeKeyFile(ageKey), "pgp.asc": pgpKey.Private})
	ageFile, pgpFile := filepath.Join(keyDir, "age.txt"), filepath.Join(keyDir, "pgp.asc")

	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "enc", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "unused"},
			Path:            "./ignored",
			Interval:        metav1.Duration{Duration: time.Hour},
			TargetNamespace: ns,
			Decryption:      &kustomizev1.Decryption{Provider: kustomizev1.DecryptionProviderSOPS, SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}},
		},
	}
	if err := e.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	noSecret := func(t *testing.T, r result) {
		t.Helper()
		for _, s := range []string{dbPassword, envPassword} {
			if strings.Contains(r.String(), s) {
				t.Errorf("a decrypted value was printed:\n%s", r)
			}
		}
	}
	decrypted := func(t *testing.T, r result) {
		t.Helper()
		noSecret(t, r)
		if r.code != 0 || !strings.Contains(r.stdout, "name: db\n") || !strings.Contains(r.stdout, "password: '***'") ||
			!strings.Contains(r.stdout, "PASSWORD: '***'") || strings.Contains(r.stdout, "ENC[") || strings.Contains(r.stdout, "sops") {
			t.Errorf("want the decrypted objects, masked:\n%s", r)
		}
	}

	// The key Secret does not exist yet.
	r := kgotk(t, "", "build", "ks", "enc", "--path", dir, "-n", ns)
	if r.code != 1 || !strings.Contains(r.stderr, "Secret '"+ns+"/sops-keys' not found") || !strings.Contains(r.stderr, "--decryption-key") {
		t.Errorf("without the key Secret: want exit 1 naming it and --decryption-key:\n%s", r)
	}
	// Local keys.
	decrypted(t, kgotk(t, "", "build", "ks", "enc", "--path", dir, "-n", ns, "--decryption-key", ageFile, "--decryption-key", pgpFile))
	// A local key that decrypts only one of the files.
	r = kgotk(t, "", "build", "ks", "enc", "--path", dir, "-n", ns, "--decryption-key", ageFile)
	noSecret(t, r)
	if r.code != 1 || !strings.Contains(r.stderr, "db.yaml: SOPS decryption failed") || !strings.Contains(r.stderr, pgpKey.Fingerprint) {
		t.Errorf("with the age key only: want exit 1 naming db.yaml and the OpenPGP key:\n%s", r)
	}

	// The Secret's keys, for a user who may read it.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sops-keys", Namespace: ns},
		StringData: map[string]string{"identity.agekey": ageKey.Identity, "key.asc": pgpKey.Private}}
	if err := e.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	decrypted(t, kgotk(t, "", "build", "ks", "enc", "--path", dir, "-n", ns))

	// A user who may read Kustomizations but not Secrets is told to bring
	// a key, and can.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "ks-reader", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{kustomizev1.GroupVersion.Group}, Resources: []string{"kustomizations"}, Verbs: []string{"get", "list", "watch"},
	}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ks-reader", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ks-reader"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "ks-reader"}}}
	if err := e.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	reader := impersonatingKubeconfig(t, "ks-reader")
	r = kgotkWith(t, reader, "", "build", "ks", "enc", "--path", dir, "-n", ns)
	if r.code != 1 || !strings.Contains(r.stderr, "which you may not read: pass your own key with --decryption-key FILE") {
		t.Errorf("a user who may not read the Secret: want exit 1 and a hint:\n%s", r)
	}
	decrypted(t, kgotkWith(t, reader, "", "build", "ks", "enc", "--path", dir, "-n", ns, "--decryption-key", ageFile, "--decryption-key", pgpFile))

	// diff: both Secrets would be created, values masked.
	r = kgotk(t, "", "diff", "ks", "enc", "--path", dir, "-n", ns)
	noSecret(t, r)
	if r.code != 1 || !strings.Contains(r.stdout, "► Secret/"+ns+"/db created\n") || !strings.Contains(r.stdout, "► Secret/"+ns+"/app-env-") {
		t.Errorf("diff: want exit 1 and both Secrets created:\n%s", r)
	}

	// --decryption-key on a Kustomization that decrypts nothing.
	createKustomization(t, ns, "plain", "unused", "./ignored", false)
	r = kgotk(t, "", "build", "ks", "plain", "--path", dir, "-n", ns, "--decryption-key", ageFile)
	if r.code != 1 || !strings.Contains(r.stderr, "has no spec.decryption") {
		t.Errorf("--decryption-key without spec.decryption: want exit 1:\n%s", r)
	}
}
