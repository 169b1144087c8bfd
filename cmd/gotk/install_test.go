package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/internal/install"
)

// decodeYAML splits a multi-document YAML stream into objects.
func decodeYAML(t *testing.T, data string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode exported YAML: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// The exported manifests are accepted by the API server, every object of
// them, with a server-side dry-run apply.
func TestInstallExportPassesServerDryRun(t *testing.T) {
	for name, flags := range map[string][]string{
		"default":    nil,
		"all-in-one": {"--all-in-one", "--components=source,kustomize,notification"},
		"no-netpol":  {"--network-policy=false", "--components=helm", "--image-pull-secret=regcred", "--watch-all-namespaces=false"},
	} {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			r := gotk(t, "", append([]string{"install", "--export", "-n", ns}, flags...)...)
			if r.code != 0 {
				t.Fatalf("export failed:\n%s", r)
			}
			objs := decodeYAML(t, r.stdout)
			kinds := map[string]int{}
			ctx := ctxFor(t, 2*time.Minute)
			for _, u := range objs {
				kinds[u.GetKind()]++
				if got := u.GetNamespace(); got != "" && got != ns {
					t.Errorf("%s %s is in namespace %s, not %s", u.GetKind(), u.GetName(), got, ns)
				}
				if err := install.ApplyObject(ctx, env.Client, u, client.DryRunAll); err != nil {
					t.Errorf("the API server refused an exported object: %v", err)
				}
			}
			if kinds["CustomResourceDefinition"] != 15 || kinds["Namespace"] != 1 || kinds["Deployment"] == 0 {
				t.Errorf("exported kinds: %v", kinds)
			}
		})
	}
}

// The default export is stable; run `go test ./cmd/gotk -run Golden -update`
// to rewrite testdata/install-export.yaml after a deliberate change. The
// CRDs, generated from api/, are reduced to their names so that an API
// change does not touch this file.
func TestInstallExportGolden(t *testing.T) {
	r := gotk(t, "", "install", "--export", "--version=v0.1.0")
	if r.code != 0 {
		t.Fatalf("export failed:\n%s", r)
	}
	docs := strings.Split(r.stdout, "\n---\n")
	for i, d := range docs {
		if strings.HasPrefix(d, "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n") {
			name := decodeYAML(t, d)[0].GetName()
			docs[i] = "# CustomResourceDefinition " + name + " (generated from api/)"
		}
	}
	got := strings.Join(docs, "\n---\n")
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	golden := filepath.Join("testdata", "install-export.yaml")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("install --export differs from %s; rerun with -update if the change is deliberate", golden)
	}
}

func TestInstallRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "--export", "--components=source,flux"}, `unknown controller "flux" in --components: choose from source, artifactgenerator, kustomize, helm, notification, image`},
		{[]string{"install", "--export", "--version=a b"}, "not a valid image tag"},
		{[]string{"install", "--export", "--log-level=loud"}, "--log-level must be debug, info, error or trace"},
		{[]string{"install", "--export", "--nope"}, "unknown flag: --nope"},
		{[]string{"install", "extra"}, `unknown command "extra"`},
	} {
		r := gotk(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: want a failure mentioning %q, got\n%s", tc.args, tc.want, r)
		}
	}
}
