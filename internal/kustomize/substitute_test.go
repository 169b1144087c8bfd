package kustomize

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// objects decodes a YAML stream of objects.
func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatalf("decoding %q: %v", d, err)
		}
		out = append(out, u)
	}
	return out
}

const substituteCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${env:=dev}
  namespace: apps
data:
  cluster: ${cluster}
  region: ${region:=eu-west-1}
  literal: $${cluster}
  script: echo $HOME $1
`

const substituteDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
  annotations:
    id: ${quote}${id}${quote}
spec:
  replicas: ${replicas}
  paused: ${paused:=false}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:${tag:=stable}
`

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name  string
		docs  []string
		pb    *kustomizev1.PostBuild
		vars  map[string]string
		opts  SubstituteOptions
		check func(t *testing.T, objs []*unstructured.Unstructured)
		err   string
	}{
		{
			name: "values, defaults and escapes",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{},
			vars: map[string]string{"cluster": "prod-1", "env": "prod"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				o := objs[0]
				if o.GetName() != "app-prod" {
					t.Errorf("name = %q", o.GetName())
				}
				want := map[string]any{"cluster": "prod-1", "region": "eu-west-1", "literal": "${cluster}", "script": "echo $HOME $1"}
				if diff := cmp.Diff(want, o.Object["data"]); diff != "" {
					t.Errorf("data (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "numbers and booleans become typed, quoted values stay strings",
			docs: []string{substituteDeploy},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"replicas": "3", "quote": `"`, "id": "123"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				o := objs[0]
				if got := field(t, o, "spec", "replicas"); got != int64(3) {
					t.Errorf("replicas = %#v", got)
				}
				if got := field(t, o, "spec", "paused"); got != false {
					t.Errorf("paused = %#v", got)
				}
				if got := o.GetAnnotations()["id"]; got != "123" {
					t.Errorf("annotation id = %#v", got)
				}
				if got := images(t, o); got[0] != "nginx:stable" {
					t.Errorf("image = %v", got)
				}
			},
		},
		{
			name: "inline substitute wins over the given variables",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "inline"}},
			vars: map[string]string{"cluster": "from-configmap", "region": "us-east-1"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				data := objs[0].Object["data"].(map[string]any)
				if data["cluster"] != "inline" || data["region"] != "us-east-1" {
					t.Errorf("data = %v", data)
				}
			},
		},
		{
			name: "newlines are removed from values",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "line1\n  injected=key\n"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				data := objs[0].Object["data"].(map[string]any)
				if data["cluster"] != "line1  injected=key" || data["injected"] != nil {
					t.Errorf("data = %v", data)
				}
			},
		},
		{
			name: "a missing variable renders empty",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"other": "x"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				data := objs[0].Object["data"].(map[string]any)
				if data["cluster"] != nil {
					t.Errorf("cluster = %#v, want null", data["cluster"])
				}
			},
		},
		{
			name: "a missing variable fails in strict mode",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"other": "x"}},
			opts: SubstituteOptions{Strict: true},
			err:  `ConfigMap/apps/app-${env:=dev}: variable not set: "cluster"`,
		},
		{
			name: "an invalid variable name",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"cluster-name": "x"}},
			err:  `variable name "cluster-name" is not valid: it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$`,
		},
		{
			name: "a value that breaks the YAML names the object",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "a: b"}},
			err:  "ConfigMap/apps/app-${env:=dev}: the substituted manifest is not valid YAML",
		},
		{
			name: "a syntax error names the object",
			docs: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: ${a b}\n"},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"a": "x"}},
			err:  `ConfigMap/x: bad substitution "${a b}" at offset`,
		},
		{
			name: "a syntax error in a Secret does not quote it",
			docs: []string{"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: ${a b} s3cr3t\n"},
			pb:   &kustomizev1.PostBuild{Substitute: map[string]string{"a": "x"}},
			err:  `Secret/s: bad substitution at offset`,
		},
		{
			name: "disabled by annotation or label",
			docs: []string{
				strings.Replace(substituteCM, "  namespace: apps\n", "  namespace: apps\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n", 1),
				strings.Replace(substituteCM, "  namespace: apps\n", "  namespace: apps\n  labels:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n", 1),
				substituteCM,
			},
			pb: &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "c", "env": "prod"}},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				for _, o := range objs[:2] {
					if o.GetName() != "app-${env:=dev}" || o.Object["data"].(map[string]any)["literal"] != "$${cluster}" {
						t.Errorf("disabled object changed: %v", o.Object)
					}
				}
				if objs[2].GetName() != "app-prod" {
					t.Errorf("enabled object not substituted: %s", objs[2].GetName())
				}
			},
		},
		{
			name: "nothing happens without variables",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if objs[0].GetName() != "app-${env:=dev}" {
					t.Errorf("name = %q", objs[0].GetName())
				}
			},
		},
		{
			name: "strategy Always substitutes without variables",
			docs: []string{substituteCM},
			pb:   &kustomizev1.PostBuild{SubstituteStrategy: kustomizev1.SubstituteAlways},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if objs[0].GetName() != "app-dev" {
					t.Errorf("name = %q", objs[0].GetName())
				}
			},
		},
		{
			name: "nothing happens without postBuild",
			docs: []string{substituteCM},
			vars: map[string]string{"env": "prod"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if objs[0].GetName() != "app-${env:=dev}" {
					t.Errorf("name = %q", objs[0].GetName())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := objects(t, tt.docs...)
			err := SubstituteWithOptions(objs, tt.pb, tt.vars, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error %q shows a Secret value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Substitute: %v", err)
			}
			tt.check(t, objs)
		})
	}
}

func TestSubstituteStrictIsVariableNotSet(t *testing.T) {
	objs := objects(t, substituteCM)
	err := SubstituteWithOptions(objs, &kustomizev1.PostBuild{Substitute: map[string]string{"env": "x"}}, nil, SubstituteOptions{Strict: true})
	if !IsVariableNotSet(err) {
		t.Fatalf("IsVariableNotSet(%v) = false", err)
	}
}

// TestSubstituteFormsAsFlux runs each substitution form Flux accepts
// through a manifest, in the default and the strict mode, and checks the
// value Flux renders, or that strict mode fails where Flux's does.
func TestSubstituteFormsAsFlux(t *testing.T) {
	vars := map[string]string{"app": "podinfo", "empty": "", "Tag": "v1.2.3", "path": "a/b/c.yaml"}
	tests := []struct {
		expr, want string
		// strictFails is set when strict mode refuses the form for the
		// unset variable it reads.
		strictFails bool
	}{
		{"${app}", "podinfo", false},
		{"${unset}", "", true},
		{"${app:-def}", "podinfo", false},
		{"${unset:-def}", "def", false},
		{"${empty:-def}", "def", false},
		{"${app:=def}", "podinfo", false},
		{"${unset:=def}", "def", false},
		{"${app=def}", "podinfo", false},
		{"${empty=def}", "def", false},
		{"${unset=def}", "def", false},
		{"${app:+word}", "podinfo", false},
		{"${unset:+word}", "word", false},
		{"${app:?msg}", "podinfo", false},
		{"${unset:?msg}", "msg", false},
		{"${#app}", "7", false},
		{"${#unset}", "0", true},
		{"${app:3}", "info", false},
		{"${app:0:3}", "pod", false},
		{"${app:${unset:=1}:2}", "od", false},
		{"${unset:1}", "", true},
		{"${Tag^^}", "V1.2.3", false},
		{"${app^}", "Podinfo", false},
		{"${Tag,,}", "v1.2.3", false},
		{"${Tag,}", "v1.2.3", false},
		{"${unset^^}", "", true},
		{"${path##*/}", "c.yaml", false},
		{"${path%.*}", "a/b/c", false},
		{"${unset#*/}", "", true},
		{"${app/o/0}", "p0dinfo", false},
		{"${app//o/0}", "p0dinf0", false},
		{"${unset//o/0}", "", true},
		{"$${app}", "${app}", false},
	}
	for _, tt := range tests {
		for _, strict := range []bool{false, true} {
			doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forms\n  namespace: apps\ndata:\n  v: \"" + tt.expr + "\"\n"
			objs := objects(t, doc)
			err := SubstituteWithOptions(objs, &kustomizev1.PostBuild{}, vars, SubstituteOptions{Strict: strict})
			if strict && tt.strictFails {
				if !IsVariableNotSet(err) || !strings.Contains(err.Error(), "ConfigMap/apps/forms") {
					t.Errorf("strict %s: error = %v, want variable not set naming ConfigMap/apps/forms", tt.expr, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (strict %v): %v", tt.expr, strict, err)
				continue
			}
			// The rendered manifest is read back as YAML: "7" is a number
			// and an empty value is null.
			v, _, _ := unstructured.NestedFieldNoCopy(objs[0].Object, "data", "v")
			got := ""
			if v != nil {
				got = fmt.Sprint(v)
			}
			if got != tt.want {
				t.Errorf("%s (strict %v) = %q, want %q", tt.expr, strict, got, tt.want)
			}
		}
	}
}

// TestSubstituteRefusesFormsFluxRefuses checks that ${var-word} and
// ${var+word}, which Flux's parser rejects, fail with an error that names
// the object and the form to write instead.
func TestSubstituteRefusesFormsFluxRefuses(t *testing.T) {
	for expr, hint := range map[string]string{"${app-def}": "${var:-...}", "${app+word}": "${var:+...}"} {
		doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forms\ndata:\n  v: \"" + expr + "\"\n"
		objs := objects(t, doc)
		err := SubstituteWithOptions(objs, &kustomizev1.PostBuild{Substitute: map[string]string{"app": "x"}}, nil, SubstituteOptions{})
		if err == nil || !strings.Contains(err.Error(), "ConfigMap/forms") || !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: error = %v, want one naming ConfigMap/forms and %s", expr, err, hint)
		}
	}
}

func createObjects(t *testing.T, objs ...client.Object) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func TestClientVarSource(t *testing.T) {
	needEnv(t)
	ns := env.Namespace(t)
	createObjects(t,
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: ns},
			Data:       map[string]string{"cluster": "prod-1", "region": "eu"},
			BinaryData: map[string][]byte{"blob": {0, 1}},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "secret-vars", Namespace: ns},
			Data:       map[string][]byte{"token": []byte("s3cr3t\n")},
		},
	)
	src := ClientVarSource{Reader: env.Client}
	ctx := context.Background()

	got, err := src.Get(ctx, "ConfigMap", ns, "vars")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"cluster": "prod-1", "region": "eu"}, got); diff != "" {
		t.Errorf("ConfigMap data (-want +got):\n%s", diff)
	}
	got, err = src.Get(ctx, "Secret", ns, "secret-vars")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"token": "s3cr3t\n"}, got); diff != "" {
		t.Errorf("Secret data (-want +got):\n%s", diff)
	}
	for _, kind := range []string{"ConfigMap", "Secret"} {
		if _, err := src.Get(ctx, kind, ns, "absent"); !apierrors.IsNotFound(err) {
			t.Errorf("Get(%s absent) error = %v, want NotFound", kind, err)
		}
	}
	if _, err := src.Get(ctx, "Pod", ns, "vars"); err == nil || !strings.Contains(err.Error(), `"Pod" is not supported`) {
		t.Errorf("Get(Pod) error = %v", err)
	}
}

func TestLoadVariables(t *testing.T) {
	needEnv(t)
	ns := env.Namespace(t)
	createObjects(t,
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: ns},
			Data:       map[string]string{"a": "first", "b": "first", "c": "first", "d": "first"},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: ns},
			Data:       map[string][]byte{"b": []byte("second"), "c": []byte("second"), "d": []byte("line1\nline2\n")},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "bad-keys", Namespace: ns},
			Data:       map[string]string{"tls.crt": "PEM DATA"},
		},
	)
	src := ClientVarSource{Reader: env.Client}
	ctx := context.Background()

	pb := &kustomizev1.PostBuild{
		SubstituteFrom: []kustomizev1.SubstituteReference{
			{Kind: "ConfigMap", Name: "first"},
			{Kind: "ConfigMap", Name: "absent", Optional: true},
			{Kind: "Secret", Name: "second"},
		},
		Substitute: map[string]string{"c": "inline"},
	}
	vars, err := LoadVariables(ctx, src, ns, pb)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "first", "b": "second", "c": "inline", "d": "line1line2"}
	if diff := cmp.Diff(want, vars); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}

	pb.SubstituteFrom = append(pb.SubstituteFrom, kustomizev1.SubstituteReference{Kind: "Secret", Name: "absent"})
	_, err = LoadVariables(ctx, src, ns, pb)
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "spec.postBuild.substituteFrom[3] Secret "+ns+"/absent not found") {
		t.Errorf("missing Secret error = %v", err)
	}

	_, err = LoadVariables(ctx, src, ns, &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "bad-keys"}}})
	if err == nil || !strings.Contains(err.Error(), `key "tls.crt" is not a valid variable name`) || strings.Contains(err.Error(), "PEM DATA") {
		t.Errorf("bad key error = %v", err)
	}

	if _, err := LoadVariables(ctx, nil, ns, &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "first"}}}); err == nil {
		t.Error("LoadVariables without a source succeeded")
	}
	if vars, err := LoadVariables(ctx, nil, ns, nil); err != nil || len(vars) != 0 {
		t.Errorf("LoadVariables(nil postBuild) = %v, %v", vars, err)
	}
}

// TestBuildAndSubstitute runs the whole pipeline of this package: build an
// overlay, load variables from the API server, substitute.
func TestBuildAndSubstitute(t *testing.T) {
	needEnv(t)
	ns := env.Namespace(t)
	createObjects(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-vars", Namespace: ns},
		Data:       map[string]string{"cluster_env": "prod", "replicas": "4"},
	})
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/kustomization.yaml": "resources: [deploy.yaml]\n",
		"app/deploy.yaml":        strings.ReplaceAll(substituteDeploy, "name: web\n", "name: web-${cluster_env}\n"),
	})
	spec := &kustomizev1.KustomizationSpec{
		Path:            "app",
		TargetNamespace: ns,
		PostBuild: &kustomizev1.PostBuild{
			SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "cluster-vars"}},
			Substitute:     map[string]string{"tag": "1.27", "quote": `"`, "id": "007"},
		},
	}
	objs, err := Build(context.Background(), root, spec, BuildOptions{NoRemoteBases: true})
	if err != nil {
		t.Fatal(err)
	}
	vars, err := LoadVariables(context.Background(), ClientVarSource{Reader: env.Client}, ns, spec.PostBuild)
	if err != nil {
		t.Fatal(err)
	}
	if err := Substitute(objs, spec.PostBuild, vars); err != nil {
		t.Fatal(err)
	}
	d := find(t, objs, "Deployment", "web-prod")
	if d.GetNamespace() != ns || field(t, d, "spec", "replicas") != int64(4) || images(t, d)[0] != "nginx:1.27" || d.GetAnnotations()["id"] != "007" {
		t.Errorf("deployment = %v", d.Object)
	}
	// The result is what the API server accepts.
	if err := env.Client.Create(context.Background(), d); err != nil {
		t.Errorf("creating the substituted Deployment: %v", err)
	}
}
