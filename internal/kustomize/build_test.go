package kustomize

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// ids names objects as Kind/namespace/name, sorted.
func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, objectRef(o))
	}
	slices.Sort(out)
	return out
}

// find returns the object of kind and name, failing t when there is none.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q among %v", kind, name, ids(objs))
	return nil
}

// field reads a nested field of obj, failing t when it is missing.
func field(t *testing.T, obj *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s: no field %s (%v)", objectRef(obj), strings.Join(path, "."), err)
	}
	return v
}

// images returns the container images of a Deployment.
func images(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, c := range field(t, obj, "spec", "template", "spec", "containers").([]any) {
		out = append(out, c.(map[string]any)["image"].(string))
	}
	return out
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name  string
		root  string
		spec  kustomizev1.KustomizationSpec
		opts  BuildOptions
		want  []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{
			name: "overlay with its base in a sibling directory",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "./overlays/prod"},
			want: []string{"ConfigMap/prod/prod-settings", "Deployment/prod/prod-podinfo", "Service/prod/prod-podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := find(t, objs, "Deployment", "prod-podinfo")
				if got := field(t, d, "spec", "replicas"); got != int64(3) {
					t.Errorf("replicas = %#v, want int64 3", got)
				}
				want := []string{"ghcr.io/stefanprodan/podinfo:6.5.0", "busybox:1.37"}
				if diff := cmp.Diff(want, images(t, d)); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "targetNamespace, namePrefix and nameSuffix replace the kustomization's",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", TargetNamespace: "staging", NamePrefix: "stg-", NameSuffix: "-v2"},
			want: []string{"ConfigMap/staging/stg-settings-v2", "Deployment/staging/stg-podinfo-v2", "Service/staging/stg-podinfo-v2"},
		},
		{
			name: "a leading slash means the artifact root",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "/base"},
			want: []string{"Deployment/podinfo", "Service/podinfo"},
		},
		{
			name: "patches: strategic merge by label selector, JSON 6902 by name",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "base", Patches: []meta.Patch{
				{
					Patch:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ignored\n  annotations:\n    safe-to-evict: \"true\"\n",
					Target: &meta.Selector{Kind: "Deployment", LabelSelector: "app=podinfo"},
				},
				{
					Patch:  "- op: replace\n  path: /spec/ports/0/port\n  value: 8080\n",
					Target: &meta.Selector{Version: "v1", Kind: "Service", Name: "podinfo"},
				},
				{
					// A strategic merge patch without a target names its object.
					Patch: "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n  labels:\n    patched: \"yes\"\n",
				},
			}},
			want: []string{"Deployment/podinfo", "Service/podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := find(t, objs, "Deployment", "podinfo")
				if got := d.GetAnnotations()["safe-to-evict"]; got != "true" {
					t.Errorf("deployment annotation = %q", got)
				}
				s := find(t, objs, "Service", "podinfo")
				if got := field(t, s, "spec", "ports").([]any)[0].(map[string]any)["port"]; got != int64(8080) {
					t.Errorf("service port = %#v", got)
				}
				if got := s.GetLabels()["patched"]; got != "yes" {
					t.Errorf("service label = %q", got)
				}
			},
		},
		{
			name: "images replace the kustomization's entry of the same name",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", Images: []meta.Image{
				{Name: "busybox", NewName: "mirror.example.com/busybox", NewTag: "1.38"},
				{Name: "ghcr.io/stefanprodan/podinfo", Digest: "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3"},
			}},
			want: []string{"ConfigMap/prod/prod-settings", "Deployment/prod/prod-podinfo", "Service/prod/prod-podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				want := []string{
					"ghcr.io/stefanprodan/podinfo@sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3",
					"mirror.example.com/busybox:1.38",
				}
				if diff := cmp.Diff(want, images(t, find(t, objs, "Deployment", "prod-podinfo"))); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "components relative to spec.path",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", Components: []string{"../../components/ingress", "../../components/monitoring"}},
			want: []string{"ConfigMap/prod/prod-settings", "Deployment/prod/prod-podinfo", "Ingress/prod/prod-podinfo", "Service/prod/prod-podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := find(t, objs, "Deployment", "prod-podinfo")
				if got := d.GetAnnotations()["prometheus.io/scrape"]; got != "true" {
					t.Errorf("monitoring component annotation = %q", got)
				}
			},
		},
		{
			name: "missing components are dropped with ignoreMissingComponents",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", Components: []string{"../../components/absent", "../../components/ingress"}, IgnoreMissingComponents: true},
			want: []string{"ConfigMap/prod/prod-settings", "Deployment/prod/prod-podinfo", "Ingress/prod/prod-podinfo", "Service/prod/prod-podinfo"},
		},
		{
			name: "commonMetadata sets labels and annotations but not selectors",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "base", CommonMetadata: &meta.CommonMetadata{
				Labels:      map[string]string{"team": "web", "app": "overridden"},
				Annotations: map[string]string{"owner": "web@example.com"},
			}},
			want: []string{"Deployment/podinfo", "Service/podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				for _, o := range objs {
					if o.GetLabels()["team"] != "web" || o.GetLabels()["app"] != "overridden" || o.GetAnnotations()["owner"] != "web@example.com" {
						t.Errorf("%s: labels %v annotations %v", objectRef(o), o.GetLabels(), o.GetAnnotations())
					}
				}
				d := find(t, objs, "Deployment", "podinfo")
				if got := field(t, d, "spec", "selector", "matchLabels", "app"); got != "podinfo" {
					t.Errorf("selector changed to %v", got)
				}
			},
		},
		{
			name: "buildMetadata adds origin annotations",
			root: "layered",
			spec: kustomizev1.KustomizationSpec{Path: "base", BuildMetadata: []kustomizev1.BuildMetadataOption{kustomizev1.OriginAnnotations}},
			want: []string{"Deployment/podinfo", "Service/podinfo"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				got := find(t, objs, "Service", "podinfo").GetAnnotations()["config.kubernetes.io/origin"]
				if !strings.Contains(got, "service.yaml") {
					t.Errorf("origin annotation = %q", got)
				}
			},
		},
		{
			name: "a plain directory gets a kustomization listing its manifests",
			root: "plain",
			spec: kustomizev1.KustomizationSpec{Path: "apps"},
			want: []string{"ConfigMap/apps/first", "ConfigMap/apps/second", "Namespace/apps", "Secret/apps/packaged-creds", "Service/apps/web"},
		},
		{
			name: "the root of a plain artifact, with a target namespace",
			root: "plain",
			spec: kustomizev1.KustomizationSpec{TargetNamespace: "other"},
			want: []string{"ConfigMap/other/first", "ConfigMap/other/second", "Namespace/other", "Secret/other/packaged-creds", "Service/other/web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Build(context.Background(), testdata(t, tt.root), &tt.spec, tt.opts)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if diff := cmp.Diff(tt.want, ids(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, objs)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		root string
		spec kustomizev1.KustomizationSpec
		opts BuildOptions
		want []string // substrings of the error
	}{
		{
			name: "invalid YAML in a generated kustomization names the file and line",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "invalid-plain"},
			want: []string{"invalid-plain/bad.yaml", "line 6"},
		},
		{
			name: "invalid YAML in a listed resource names the file and line",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "invalid-listed"},
			want: []string{"invalid-listed/bad.yaml", "line 5"},
		},
		{
			name: "an unknown field in kustomization.yaml",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "unknown-field"},
			want: []string{"unknown-field/kustomization.yaml", `unknown field "resourcess"`},
		},
		{
			name: "a missing resource file",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "missing-resource"},
			want: []string{"missing-resource/kustomization.yaml", `"absent.yaml"`, "no such file"},
		},
		{
			name: "a path that does not exist",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "overlays/dev"},
			want: []string{`spec.path "overlays/dev" does not exist`},
		},
		{
			name: "a path that is a file",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "base/service.yaml"},
			want: []string{`spec.path "base/service.yaml" is not a directory`},
		},
		{
			name: "a path that climbs out of the root",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "../plain/apps"},
			want: []string{`spec.path "../plain/apps" leads outside the artifact root`},
		},
		{
			name: "a path that climbs out of the root after going down",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "base/../../plain"},
			want: []string{`spec.path "base/../../plain" leads outside the artifact root`},
		},
		{
			name: "an absolute path that climbs out of the root",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "/../plain"},
			want: []string{`spec.path "/../plain" leads outside the artifact root`},
		},
		{
			name: "a component that is missing",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", Components: []string{"../../components/absent"}},
			want: []string{`spec.components[0] "../../components/absent": no such directory`},
		},
		{
			name: "a component out of the artifact",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "overlays/prod", Components: []string{"../../../plain"}},
			want: []string{`spec.components[0] "../../../plain" leads outside the artifact root`},
		},
		{
			name: "a remote component",
			root: "layered", spec: kustomizev1.KustomizationSpec{Path: "base", Components: []string{"https://github.com/org/repo//components/x"}},
			want: []string{`spec.components[0] "https://github.com/org/repo//components/x": components must be paths relative to spec.path`},
		},
		{
			name: "an object without kind in a plain directory",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "half-object"},
			want: []string{"half-object/cm.yaml", "line 6", "no kind"},
		},
		{
			name: "objects mixed with other documents in a plain directory",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "mixed"},
			want: []string{"mixed/cm.yaml", "document 2 (line 6)", "not a Kubernetes object"},
		},
		{
			name: "a file of only other documents in a plain directory",
			root: "broken", spec: kustomizev1.KustomizationSpec{Path: "not-object"},
			want: []string{"not-object/values.yaml", "document 1 (line 2)", "not a Kubernetes object", ".sourceignore"},
		},
		{
			name: "a remote base with remote bases disabled",
			root: "remote", spec: kustomizev1.KustomizationSpec{Path: "git"}, opts: BuildOptions{NoRemoteBases: true},
			want: []string{"git/kustomization.yaml", `"https://github.com/org/repo//path?ref=v1"`, "remote bases are disabled"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := testdata(t, tt.root)
			_, err := Build(context.Background(), root, &tt.spec, tt.opts)
			if err == nil {
				t.Fatal("Build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), root) {
				t.Errorf("error %q shows the absolute root %s", err, root)
			}
		})
	}
}

// TestBuildNothing builds directories that hold no object: an empty one
// and one with only empty documents and comments.
func TestBuildNothing(t *testing.T) {
	empty := t.TempDir()
	comments := t.TempDir()
	if err := os.WriteFile(filepath.Join(comments, "empty.yaml"), []byte("# nothing yet\n---\n---\n# still nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ root, path string }{
		{empty, ""},
		{comments, ""},
	} {
		objs, err := Build(context.Background(), tt.root, &kustomizev1.KustomizationSpec{Path: tt.path, TargetNamespace: "x"}, BuildOptions{})
		if err != nil || len(objs) != 0 {
			t.Errorf("Build(%s) = %v, %v; want no object and no error", tt.path, ids(objs), err)
		}
	}
}

// Syntax errors name the line where the problem is, counted from 1, for
// parser errors (yaml.v3 counts those from 0) as for scanner errors.
func TestYAMLSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: [oops\n", "line 5: did not find expected ',' or ']'"},
		{"a: 1\nb: {c: 2\n", "line 2: did not find expected ',' or '}'"},
		{"a: 1\nb: 2\nc: : :\n", "line 3: mapping values are not allowed in this context"},
		{"a: 1\nb:\n\t- x\n", "line 3: found character that cannot start any token"},
		{"a: 1\nb: \"unterminated\nc: 2\n", "line 2: found unexpected end of stream"},
		{"apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\nlist: [x\n", "line 6: did not find expected ',' or ']'"},
	} {
		err := checkYAMLSyntax([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkYAMLSyntax(%q) = %v, want %q", tc.in, err, tc.want)
		}
		_, err = holdsObjects([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("holdsObjects(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A build that references a remote resource says so, so that its result
// is not reused; a build of local files does not.
func TestBuildReportsRemote(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n  namespace: ns\n")
	}))
	defer srv.Close()
	root := t.TempDir()
	for name, content := range map[string]string{
		"remote/kustomization.yaml": "resources:\n  - local.yaml\n  - " + srv.URL + "/cm.yaml\n",
		"remote/local.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  namespace: ns\n",
		"local/kustomization.yaml":  "resources:\n  - local.yaml\n",
		"local/local.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  namespace: ns\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path   string
		remote bool
		n      int
	}{{"remote", true, 2}, {"local", false, 1}} {
		res, err := BuildResult(context.Background(), root, &kustomizev1.KustomizationSpec{Path: tc.path}, BuildOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if res.Remote != tc.remote || len(res.Objects) != tc.n {
			t.Errorf("%s: remote %v with %d objects, want %v with %d", tc.path, res.Remote, len(res.Objects), tc.remote, tc.n)
		}
	}
}
