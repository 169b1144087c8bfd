package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/ssa"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// The secret value of the test manifests; it must never be printed.
const buildSecretValue = "hunter2-do-not-print"

// buildManifests are a ConfigMap with a substitution variable and a
// Secret, as plain files.
func buildManifests(dir string) map[string]string {
	return map[string]string{
		dir + "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  greeting: ${greeting}\n  color: blue\n",
		dir + "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-creds\nstringData:\n  password: " + buildSecretValue +
			"\n",
	}
}

// createKustomization creates a Kustomization in ns that puts its objects
// in ns and substitutes ${greeting}.
func createKustomization(t *testing.T, ns, name, source, path string, prune bool) {
	t.Helper()
	e := objects(t)
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: source},
			Path:            path,
			Prune:           prune,
			Interval:        metav1.Duration{Duration: time.Hour},
			TargetNamespace: ns,
			PostBuild:       &kustomizev1.PostBuild{Substitute: map[string]string{"greeting": "hello"}},
		},
	}
	if err := e.Client.Create(ctxFor(t, time.Minute), ks); err != nil {
		t.Fatal(err)
	}
}

// checkBuildOutput checks the YAML stream of a build of buildManifests.
func checkBuildOutput(t *testing.T, r result, ns, name, color string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("build:\n%s", r)
	}
	if strings.Contains(r.String(), buildSecretValue) {
		t.Fatalf("the Secret's value was printed:\n%s", r)
	}
	docs := strings.Split(strings.TrimPrefix(r.stdout, "---\n"), "---\n")
	if len(docs) != 2 {
		t.Fatalf("want 2 documents:\n%s", r)
	}
	byKind := map[string]map[string]any{}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, d)
		}
		byKind[m["kind"].(string)] = m
	}
	cm, secret := byKind["ConfigMap"], byKind["Secret"]
	if cm == nil || secret == nil {
		t.Fatalf("want a ConfigMap and a Secret:\n%s", r.stdout)
	}
	md := cm["metadata"].(map[string]any)
	labels, _ := md["labels"].(map[string]any)
	if md["namespace"] != ns || labels[kustomizev1.NameLabel] != name || labels[kustomizev1.NamespaceLabel] != ns {
		t.Errorf("ConfigMap metadata: %v", md)
	}
	if data := cm["data"].(map[string]any); data["greeting"] != "hello" || data["color"] != color {
		t.Errorf("ConfigMap data (substituted?): %v", data)
	}
	if sd := secret["stringData"].(map[string]any); sd["password"] != "***" {
		t.Errorf("Secret stringData not masked: %v", sd)
	}
}

// Build from the source's artifact, fetched by the real GitRepository
// reconciler and served on loopback; then from a local directory.
func TestBuildKustomization(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	root := t.TempDir()
	gitserver.MustSeed(t, root, "fleet.git", buildManifests("apps/"))
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	if r := kgotk(t, "", "create", "source", "git", "fleet", "--url="+srv.RepoURL("fleet.git"), "--branch=main", "-n", ns); r.code != 0 {
		t.Fatalf("create source git:\n%s", r)
	}
	createKustomization(t, ns, "apps", "fleet", "./apps", false)

	r := kgotk(t, "", "build", "kustomization", "apps", "-n", ns)
	checkBuildOutput(t, r, ns, "apps", "blue")

	// --path: the local directory stands for spec.path.
	dir := t.TempDir()
	for f, content := range buildManifests("") {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(strings.ReplaceAll(content, "blue", "green")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r = kgotk(t, "", "build", "ks", "apps", "--path", dir, "-n", ns)
	checkBuildOutput(t, r, ns, "apps", "green")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "ks", "missing", "-n", ns}, "Kustomization missing not found in namespace " + ns},
		{[]string{"build", "ks", "apps", "--path", filepath.Join(dir, "nowhere"), "-n", ns}, "--path " + filepath.Join(dir, "nowhere")},
	} {
		if r := kgotk(t, "", tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit 1 and %q:\n%s", tc.args, tc.want, r)
		}
	}
}

// writeFiles writes files (path relative to dir: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// overlayFiles lays out the common base and overlay: apps/base holds the
// manifests, apps/production lists "../base" and turns the color red.
func overlayFiles() map[string]string {
	files := buildManifests("apps/base/")
	files["apps/base/kustomization.yaml"] = "resources:\n  - cm.yaml\n  - secret.yaml\n"
	files["apps/production/kustomization.yaml"] = "resources:\n  - ../base\npatches:\n  - patch: |\n" +
		"      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: web\n      data:\n        color: red\n"
	return files
}

// --path on an overlay: its base beside it, inside the same Git work tree,
// is read, as it is from the artifact; a base outside the work tree is
// still refused. Outside a work tree, the current directory is the root.
func TestBuildKustomizationPathOverlay(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	createKustomization(t, ns, "shop", "fleet", "./apps/production", false)

	parent := t.TempDir()
	repo := filepath.Join(parent, "fleet")
	if _, err := git.PlainInit(repo, false); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, repo, overlayFiles())
	writeFiles(t, parent, map[string]string{"outside/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n"})
	writeFiles(t, repo, map[string]string{"apps/escape/kustomization.yaml": "resources:\n  - ../../../outside\n"})

	overlay := filepath.Join(repo, "apps", "production")
	r := kgotk(t, "", "build", "ks", "shop", "--path", overlay, "-n", ns)
	checkBuildOutput(t, r, ns, "shop", "red")

	r = kgotk(t, "", "diff", "ks", "shop", "--path", overlay, "-n", ns)
	if r.code != 1 || !strings.Contains(r.stdout, "ConfigMap/"+ns+"/web created") {
		t.Errorf("diff of the overlay: want exit 1 and the ConfigMap created:\n%s", r)
	}

	r = kgotk(t, "", "build", "ks", "shop", "--path", filepath.Join(repo, "apps", "escape"), "-n", ns)
	if want := `apps/escape/kustomization.yaml: resources entry "../../../outside" points outside the artifact root`; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("a base outside the work tree: want exit 1 and %q:\n%s", want, r)
	}

	// No work tree: the current directory holds the overlay and its base.
	plain := t.TempDir()
	writeFiles(t, plain, overlayFiles())
	t.Chdir(plain)
	r = kgotk(t, "", "build", "ks", "shop", "--path", "apps/production", "-n", ns)
	checkBuildOutput(t, r, ns, "shop", "red")
}

// Diff against objects applied as the controller applies them: new
// objects, none changed (exit 0, no output), a drifted ConfigMap and
// Secret (exit 1, the diff, no secret value), and a pruned object.
func TestDiffKustomization(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, 5*time.Minute)
	ns := e.Namespace(t)
	dir := t.TempDir()
	for f, content := range buildManifests("") {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	createKustomization(t, ns, "web", "unused", "./ignored", true)

	// Nothing applied yet: both objects would be created.
	r := kgotk(t, "", "diff", "kustomization", "web", "--path", dir, "-n", ns)
	if r.code != 1 || !strings.Contains(r.stdout, "► ConfigMap/"+ns+"/web created\n") ||
		!strings.Contains(r.stdout, "► Secret/"+ns+"/web-creds created\n") || strings.Contains(r.String(), buildSecretValue) {
		t.Fatalf("diff before the apply:\n%s", r)
	}

	// Apply as the controller does, and record the inventory.
	key := types.NamespacedName{Namespace: ns, Name: "web"}
	_, objs, err := buildKustomization(ctx, e.Client, key, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := ssa.New(e.Client, kustomizev1.FieldManager, ssa.KustomizationOwner("web", ns))
	cs, err := m.Apply(ctx, objs, ssa.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setInventory(t, ns, "web", ssa.Inventory(cs))
	r = kgotk(t, "", "diff", "ks", "web", "--path", dir, "-n", ns)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("diff with nothing changed must exit 0 silently:\n%s", r)
	}

	// Drift: edit the ConfigMap and the Secret by hand.
	cm := &corev1.ConfigMap{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if err := e.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-creds"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["password"] = []byte("changed-by-hand-secret")
	if err := e.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	r = kgotk(t, "", "diff", "ks", "web", "--path", dir, "-n", ns)
	if r.code != 1 {
		t.Fatalf("diff of a drifted object must exit 1:\n%s", r)
	}
	for _, want := range []string{
		"► ConfigMap/" + ns + "/web drifted\n",
		"-  color: red\n",
		"+  color: blue\n",
		"► Secret/" + ns + "/web-creds drifted\n",
		"-  password: '*** (before)'\n",
		"+  password: '*** (after)'\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r)
		}
	}
	for _, secretText := range []string{buildSecretValue, "changed-by-hand-secret"} {
		if strings.Contains(r.String(), secretText) {
			t.Errorf("a secret value was printed:\n%s", r)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colors outside a terminal:\n%q", r.stdout)
	}

	// An object of the inventory the build no longer has is pruned.
	if _, err := m.Apply(ctx, objs, ssa.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: ns, Labels: ssa.KustomizationOwner("web", ns)}}
	if err := e.Client.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	inv := ssa.Inventory(cs)
	inv.Entries = append(inv.Entries, meta.ResourceRef{ID: meta.ResourceID(ns, "old", "", "ConfigMap"), Version: "v1"})
	setInventory(t, ns, "web", inv)
	r = kgotk(t, "", "diff", "ks", "web", "--path", dir, "-n", ns)
	if r.code != 1 || r.stdout != "► ConfigMap/"+ns+"/old deleted\n" {
		t.Fatalf("diff with a stale object:\n%s", r)
	}

	// Errors exit 2.
	r = kgotk(t, "", "diff", "ks", "missing", "-n", ns)
	if r.code != 2 || !strings.Contains(r.stderr, "✗ Kustomization missing not found") {
		t.Errorf("diff of a missing Kustomization must exit 2:\n%s", r)
	}
}

// setInventory writes status.inventory of a Kustomization.
func setInventory(t *testing.T, ns, name string, inv *meta.ResourceInventory) {
	t.Helper()
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	ks := &kustomizev1.Kustomization{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ks); err != nil {
		t.Fatal(err)
	}
	ks.Status.Inventory = inv
	if err := e.Client.Status().Update(ctx, ks); err != nil {
		t.Fatalf("set the inventory of %s/%s: %v", ns, name, err)
	}
}

// Colors: removed lines red, added green, hunk headers blue, file headers
// plain; without color the diff is printed as it is.
func TestPrintUnifiedDiff(t *testing.T) {
	text := "--- live/ConfigMap/a/b\n+++ desired/ConfigMap/a/b\n@@ -1,2 +1,2 @@\n-  x: 1\n+  x: 2\n   y: 3\n"
	var plain, colored strings.Builder
	printUnifiedDiff(&plain, false, text)
	if plain.String() != text {
		t.Errorf("plain:\n%q", plain.String())
	}
	printUnifiedDiff(&colored, true, text)
	want := "--- live/ConfigMap/a/b\n+++ desired/ConfigMap/a/b\n" + colorBlue + "@@ -1,2 +1,2 @@" + colorReset + "\n" +
		colorRed + "-  x: 1" + colorReset + "\n" + colorGreen + "+  x: 2" + colorReset + "\n   y: 3\n"
	if colored.String() != want {
		t.Errorf("colored:\n%q\nwant\n%q", colored.String(), want)
	}
}

// Every value of a Secret is masked, the input is left alone, and other
// kinds pass through.
func TestMaskSecretData(t *testing.T) {
	var s, cm unstructured.Unstructured
	if err := yaml.Unmarshal([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: c2VjcmV0\nstringData:\n  b: secret\n"), &s.Object); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: visible\n"), &cm.Object); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := printManifests(&out, []*unstructured.Unstructured{&s, &cm}); err != nil {
		t.Fatal(err)
	}
	want := "---\napiVersion: v1\ndata:\n  a: '***'\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  b: '***'\n" +
		"---\napiVersion: v1\ndata:\n  a: visible\nkind: ConfigMap\nmetadata:\n  name: c\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if v, _, _ := unstructured.NestedString(s.Object, "stringData", "b"); v != "secret" {
		t.Errorf("the input was changed: %v", s.Object)
	}
}

// The root of a --path build: the top of the Git work tree (a .git
// directory, or the .git file of a linked work tree), else the current
// directory when it holds the path, else the path itself.
func TestLocalBuildRoot(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, base, map[string]string{
		"repo/.git/HEAD":               "ref: refs/heads/main\n",
		"repo/apps/production/k.yaml":  "",
		"linked/.git":                  "gitdir: ../repo/.git/worktrees/linked\n",
		"linked/apps/staging/k.yaml":   "",
		"plain/apps/production/k.yaml": "",
	})
	for _, tc := range []struct {
		cwd, path, root, specPath string
	}{
		{base, "repo/apps/production", "repo", "./apps/production"},
		{base, "repo", "repo", "./"},
		{base, "linked/apps/staging", "linked", "./apps/staging"},
		{filepath.Join(base, "plain"), "apps/production", "plain", "./apps/production"},
		{filepath.Join(base, "repo"), filepath.Join(base, "plain", "apps", "production"), "plain/apps/production", "./"},
	} {
		t.Chdir(tc.cwd)
		root, specPath, err := localBuildRoot(tc.path)
		if err != nil {
			t.Errorf("localBuildRoot(%q) in %s: %v", tc.path, tc.cwd, err)
			continue
		}
		if want := filepath.Join(base, tc.root); root != want || specPath != tc.specPath {
			t.Errorf("localBuildRoot(%q) in %s = %s, %s; want %s, %s", tc.path, tc.cwd, root, specPath, want, tc.specPath)
		}
	}
}
