package main

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const migrateFixture = "testdata/migrate-helm-operator/releases.yaml"

// migrated runs gotk migrate helm-operator and fails the test unless it
// succeeds.
func migrated(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := gotk(t, stdin, append([]string{"migrate", "helm-operator"}, args...)...)
	if r.code != 0 {
		t.Fatalf("migrate helm-operator failed:\n%s", r)
	}
	return r
}

// yamlDocs splits a YAML stream into objects.
func yamlDocs(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("output is not YAML: %v\n%s", err, doc)
		}
		out = append(out, u)
	}
}

// Every helm.fluxcd.io/v1 field of the fixture converts to what the golden
// files hold, and each field without an equivalent is named on stderr.
func TestMigrateHelmOperatorConvertsEveryField(t *testing.T) {
	r := migrated(t, "", "-f", migrateFixture)
	golden(t, "migrate-helm-operator/output.yaml", r.stdout)
	golden(t, "migrate-helm-operator/warnings.txt", r.stderr)
}

// The output is accepted by gotk's CRDs on a real API server with strict
// field validation: no unknown field, nothing the schema or its CEL rules
// refuse. Sources in another namespace (--source-namespace) too.
func TestMigrateHelmOperatorOutputIsAcceptedByTheCRDs(t *testing.T) {
	e := objects(t)
	ctx := ctxFor(t, time.Minute)
	for _, ns := range []string{"apps", "web", "jobs", "gotk-system"} {
		fixedNamespace(t, ns)
	}
	for _, args := range [][]string{
		{"-f", migrateFixture},
		{"-f", migrateFixture, "--source-namespace=gotk-system", "--interval=1h", "--source-interval=30m"},
	} {
		r := migrated(t, "", args...)
		docs := yamlDocs(t, r.stdout)
		if len(docs) != 7 {
			t.Fatalf("%v: want 7 objects (3 sources, 4 HelmReleases), got %d:\n%s", args, len(docs), r.stdout)
		}
		for _, u := range docs {
			err := e.Client.Create(ctx, u, client.DryRunAll, client.FieldValidation(metav1.FieldValidationStrict))
			if err != nil {
				t.Errorf("%v: the API server refuses %s %s/%s: %v", args, u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
		}
	}
}

// --source-namespace puts the sources there and the HelmReleases refer to
// them across namespaces.
func TestMigrateHelmOperatorSourceNamespace(t *testing.T) {
	r := migrated(t, "", "-f", migrateFixture, "--source-namespace=gotk-system")
	for _, u := range yamlDocs(t, r.stdout) {
		switch u.GetKind() {
		case "HelmRepository", "GitRepository":
			if u.GetNamespace() != "gotk-system" {
				t.Errorf("%s %s is in namespace %q, want gotk-system", u.GetKind(), u.GetName(), u.GetNamespace())
			}
		case "HelmRelease":
			ns, _, _ := unstructured.NestedString(u.Object, "spec", "chart", "spec", "sourceRef", "namespace")
			if ns != "gotk-system" {
				t.Errorf("HelmRelease %s/%s: sourceRef.namespace is %q, want gotk-system", u.GetNamespace(), u.GetName(), ns)
			}
		}
	}
}

// HelmReleases of one repository share one HelmRepository; repositories
// whose addresses give the same name are told apart, and each HelmRelease
// refers to its own. Standard input is read with -f -.
func TestMigrateHelmOperatorSharesOneSourcePerRepository(t *testing.T) {
	release := func(name, repo, extra string) string {
		return `apiVersion: helm.fluxcd.io/v1
kind: HelmRelease
metadata: {name: ` + name + `, namespace: apps}
spec:
  chart:
    repository: ` + repo + `
    name: app
    version: 1.0.0
` + extra
	}
	in := strings.Join([]string{
		release("a", "https://charts.example.com/stable", ""),
		release("b", "https://charts.example.com/stable/", ""),
		release("c", "https://charts.example.com/stable", "    chartPullSecret: {name: creds}\n"),
		release("d", "https://charts.example.com/incubator", ""),
	}, "---\n")
	r := migrated(t, in, "-f", "-")
	repos := map[string]string{}
	refs := map[string]string{}
	for _, u := range yamlDocs(t, r.stdout) {
		switch u.GetKind() {
		case "HelmRepository":
			secret, _, _ := unstructured.NestedString(u.Object, "spec", "secretRef", "name")
			url, _, _ := unstructured.NestedString(u.Object, "spec", "url")
			repos[u.GetName()] = url + " " + secret
		case "HelmRelease":
			refs[u.GetName()], _, _ = unstructured.NestedString(u.Object, "spec", "chart", "spec", "sourceRef", "name")
		}
	}
	if len(repos) != 3 {
		t.Fatalf("want 3 HelmRepositories (stable, stable with credentials, incubator), got %v", repos)
	}
	if refs["a"] != refs["b"] {
		t.Errorf("a and b use the same repository but refer to %q and %q", refs["a"], refs["b"])
	}
	if refs["a"] == refs["c"] || refs["a"] == refs["d"] || refs["c"] == refs["d"] {
		t.Errorf("a, c and d need three HelmRepositories, they refer to %v", refs)
	}
	for hr, name := range refs {
		if _, ok := repos[name]; !ok {
			t.Errorf("HelmRelease %s refers to HelmRepository %q, which is not in the output", hr, name)
		}
	}
	if got := repos[refs["c"]]; got != "https://charts.example.com/stable creds" {
		t.Errorf("HelmRelease c's HelmRepository is %q, want the stable URL with Secret creds", got)
	}
	if !strings.Contains(r.stderr, "<stdin>: document 3 (HelmRelease apps/c): spec.chart.chartPullSecret") {
		t.Errorf("no warning about c's chartPullSecret:\n%s", r.stderr)
	}
}

// A document that is not a Helm Operator HelmRelease, or a field of the
// wrong type, fails the command with the file, the document and the field,
// and nothing is printed.
func TestMigrateHelmOperatorRefusesBadInput(t *testing.T) {
	ok := `apiVersion: helm.fluxcd.io/v1
kind: HelmRelease
metadata: {name: ok, namespace: apps}
spec:
  chart: {repository: https://charts.example.com, name: app, version: 1.0.0}
`
	for name, tc := range map[string]struct{ in, want string }{
		"another kind": {
			in:   ok + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
			want: "<stdin>: document 2 is apps/v1 Deployment, not a helm.fluxcd.io/v1 HelmRelease",
		},
		"the older API": {
			in:   "apiVersion: flux.weave.works/v1beta1\nkind: HelmRelease\nmetadata: {name: old}\nspec: {}\n",
			want: "change its apiVersion to helm.fluxcd.io/v1 first",
		},
		"a timeout that is not seconds": {
			in:   strings.Replace(ok, "spec:\n", "spec:\n  timeout: 5m\n", 1),
			want: `<stdin>: document 1 (HelmRelease apps/ok): spec.timeout: want an integer, got the string "5m"`,
		},
		"no chart": {
			in:   "apiVersion: helm.fluxcd.io/v1\nkind: HelmRelease\nmetadata: {name: x, namespace: apps}\nspec: {releaseName: x}\n",
			want: "(HelmRelease apps/x): spec.chart: is missing",
		},
		"both git and repository": {
			in:   strings.Replace(ok, "chart: {", "chart: {git: https://github.com/org/repo, path: chart, ", 1),
			want: "spec.chart: sets both git and repository",
		},
		"a Git URL gotk cannot clone": {
			in:   strings.Replace(ok, "chart: {repository: https://charts.example.com, name: app, version: 1.0.0}", "chart: {git: git://example.com/repo, path: chart}", 1),
			want: `spec.chart.git: "git://example.com/repo": gotk clones over http, https and ssh only`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := gotk(t, tc.in, "migrate", "helm-operator", "-f", "-")
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want a failure saying %q and no output, got:\n%s", tc.want, r)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-f is required"},
		{[]string{"-f", migrateFixture, "--source-namespace=Not_A_Namespace"}, `--source-namespace "Not_A_Namespace" is not a namespace name`},
		{[]string{"-f", migrateFixture, "--interval=0s"}, "--interval and --source-interval must be positive"},
		{[]string{"-f", "testdata/migrate-helm-operator/missing.yaml"}, "read testdata/migrate-helm-operator/missing.yaml"},
	} {
		r := gotk(t, "", append([]string{"migrate", "helm-operator"}, tc.args...)...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want an error saying %q, got:\n%s", tc.args, tc.want, r)
		}
	}
}

// A Git ref becomes the GitRepository ref field that means the same: a
// commit SHA, a tag, a branch, or another full ref name. Fields of the
// other kind of chart source are named, not dropped in silence.
func TestMigrateHelmOperatorGitRefs(t *testing.T) {
	for gitRef, want := range map[string]map[string]any{
		"0123456789abcdef0123456789abcdef01234567": {"commit": "0123456789abcdef0123456789abcdef01234567"},
		"refs/heads/release-1.x":                   {"branch": "release-1.x"},
		"refs/tags/v2.0.0":                         {"tag": "v2.0.0"},
		"refs/pull/7/head":                         {"name": "refs/pull/7/head"},
		"develop":                                  {"branch": "develop"},
	} {
		in := `apiVersion: helm.fluxcd.io/v1
kind: HelmRelease
metadata: {name: app, namespace: apps}
spec:
  chart: {git: "https://example.com/org/repo.git", ref: "` + gitRef + `", path: ./chart, version: 1.0.0}
`
		r := migrated(t, in, "-f", "-")
		docs := yamlDocs(t, r.stdout)
		if len(docs) != 2 || docs[0].GetKind() != "GitRepository" {
			t.Fatalf("ref %s: want a GitRepository and a HelmRelease:\n%s", gitRef, r.stdout)
		}
		got, _, _ := unstructured.NestedMap(docs[0].Object, "spec", "ref")
		if len(got) != 1 || got[mapKey(want)] != want[mapKey(want)] {
			t.Errorf("ref %s: GitRepository spec.ref is %v, want %v", gitRef, got, want)
		}
		if !strings.Contains(r.stderr, "spec.chart.version: applies to a chart from a Helm repository only; not converted") {
			t.Errorf("ref %s: no warning about spec.chart.version:\n%s", gitRef, r.stderr)
		}
	}
}

func mapKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}
