package config_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/config"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}

// Every embedded CRD is installed and Established on the API server.
func TestCRDsEstablished(t *testing.T) {
	testenv.Require(t)
	ctx := context.Background()
	names := map[string]bool{}
	err := fs.WalkDir(config.CRDs(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(config.CRDs(), path)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return err
		}
		names[crd.Name] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 15 {
		t.Fatalf("embedded CRDs: %d, want 15", len(names))
	}
	for name := range names {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		established := false
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			t.Errorf("%s is not Established: %+v", name, crd.Status.Conditions)
		}
	}
}

// readObjects decodes every document of a YAML file.
func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// Every sample, written as a Flux user writes it, is accepted with strict
// field validation: no field of it is unknown to gotk's schema.
func TestSamplesAccepted(t *testing.T) {
	testenv.Require(t)
	files, err := filepath.Glob("samples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ns := env.Namespace(t)
			for _, obj := range readObjects(t, f) {
				kinds[obj.GetKind()] = true
				obj.SetNamespace(ns)
				if err := env.Client.Create(context.Background(), obj, client.FieldValidation("Strict")); err != nil {
					t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
			}
		})
	}
	if len(kinds) < 15 {
		t.Errorf("samples cover %d kinds, want all 15: %v", len(kinds), kinds)
	}
}

// Invalid objects are rejected with the API server's validation message.
func TestInvalidObjectsRejected(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []string
	}{
		{
			name: "Kustomization without prune",
			manifest: `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app}
spec:
  interval: 10m
  path: ./deploy
  sourceRef: {kind: GitRepository, name: app}
`,
			want: []string{"spec.prune", "Required value"},
		},
		{
			name: "GitRepository with a bad interval",
			manifest: `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app}
spec:
  interval: 5 minutes
  url: https://example.com/app.git
`,
			want: []string{"spec.interval", "should match"},
		},
		{
			name: "GitRepository with an unknown ref field",
			manifest: `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app}
spec:
  interval: 5m
  url: https://example.com/app.git
  ref: {branch: main, brnch: typo}
`,
			want: []string{`unknown field "spec.ref.brnch"`},
		},
		{
			name: "Provider of a type not in the enum",
			manifest: `
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: pigeon}
spec:
  type: carrier-pigeon
`,
			want: []string{"spec.type", `Unsupported value: "carrier-pigeon"`},
		},
		{
			name: "HelmRelease with both chart and chartRef",
			manifest: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web}
spec:
  interval: 5m
  chart:
    spec: {chart: web, sourceRef: {kind: HelmRepository, name: charts}}
  chartRef: {kind: OCIRepository, name: web}
`,
			want: []string{"chart", "chartRef"},
		},
		{
			name: "ArtifactGenerator with an artifact name that is no object name",
			manifest: `
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: apps}
spec:
  sources: [{alias: repo, kind: GitRepository, name: apps}]
  artifacts:
  - name: Web_App
    copy: [{from: "@repo/web/**", to: "@artifact/"}]
`,
			want: []string{"artifact names must be valid Kubernetes object names when pathPattern is not set"},
		},
		{
			name: "ArtifactGenerator copying to somewhere else than the artifact",
			manifest: `
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: apps}
spec:
  sources: [{alias: repo, kind: GitRepository, name: apps}]
  artifacts:
  - name: web
    copy: [{from: "@repo/web/**", to: "@repo/", strategy: Append}]
`,
			want: []string{"spec.artifacts[0].copy[0].to", "should match", "spec.artifacts[0].copy[0].strategy", `Unsupported value: "Append"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := env.Namespace(t)
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tt.manifest), &u.Object); err != nil {
				t.Fatal(err)
			}
			u.SetNamespace(ns)
			err := env.Client.Create(context.Background(), u, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
