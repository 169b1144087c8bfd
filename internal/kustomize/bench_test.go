package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

const (
	benchObjects = 5000
	benchFiles   = 50
)

// writeBenchArtifact writes benchObjects objects (half ConfigMaps, half
// Deployments) into benchFiles files under dir/app, with a kustomization
// listing them when withKustomization is set.
func writeBenchArtifact(b testing.TB, dir string, withKustomization bool) {
	writeScaledArtifact(b, dir, benchObjects, withKustomization)
}

// writeScaledArtifact is writeBenchArtifact for n objects.
func writeScaledArtifact(b testing.TB, dir string, benchObjects int, withKustomization bool) {
	b.Helper()
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		b.Fatal(err)
	}
	perFile := benchObjects / benchFiles
	var files []string
	for f := range benchFiles {
		var sb strings.Builder
		for i := range perFile {
			n := f*perFile + i
			if f%2 == 0 {
				fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  labels:\n    app: bench\ndata:\n  index: \"%d\"\n  region: ${region:=eu}\n", n, n)
			} else {
				fmt.Fprintf(&sb, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: deploy-%d\n  labels:\n    app: bench\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: d%d\n  template:\n    metadata:\n      labels:\n        app: d%d\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.27\n          env:\n            - name: CLUSTER\n              value: ${cluster}\n", n, n, n)
			}
		}
		name := fmt.Sprintf("objects-%02d.yaml", f)
		files = append(files, name)
		if err := os.WriteFile(filepath.Join(app, name), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if withKustomization {
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + strings.Join(files, "\n  - ") + "\n"
		if err := os.WriteFile(filepath.Join(app, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSpec() *kustomizev1.KustomizationSpec {
	return &kustomizev1.KustomizationSpec{
		Path:            "app",
		TargetNamespace: "bench",
		Images:          []meta.Image{{Name: "nginx", NewTag: "1.28"}},
		Patches: []meta.Patch{{
			Patch:  "- op: replace\n  path: /spec/replicas\n  value: 2\n",
			Target: &meta.Selector{Kind: "Deployment"},
		}},
		CommonMetadata: &meta.CommonMetadata{Labels: map[string]string{"team": "bench"}},
	}
}

func benchBuild(b *testing.B, withKustomization bool) {
	root := b.TempDir()
	writeBenchArtifact(b, root, withKustomization)
	spec := benchSpec()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		objs, err := Build(context.Background(), root, spec, BuildOptions{NoRemoteBases: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != benchObjects {
			b.Fatalf("built %d objects, want %d", len(objs), benchObjects)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchObjects, "ns/object")
}

// BenchmarkBuild5000 builds 5,000 objects listed by a kustomization, with
// a target namespace, a patch, an image and common labels.
func BenchmarkBuild5000(b *testing.B) { benchBuild(b, true) }

// BenchmarkBuild5000Generated is BenchmarkBuild5000 on a plain directory,
// whose kustomization is generated.
func BenchmarkBuild5000Generated(b *testing.B) { benchBuild(b, false) }

// BenchmarkSubstitute5000 substitutes variables in 5,000 built objects.
func BenchmarkSubstitute5000(b *testing.B) {
	root := b.TempDir()
	writeBenchArtifact(b, root, true)
	built, err := Build(context.Background(), root, benchSpec(), BuildOptions{NoRemoteBases: true})
	if err != nil {
		b.Fatal(err)
	}
	pb := &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "prod-1"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		objs := make([]*unstructured.Unstructured, len(built))
		for i, o := range built {
			objs[i] = o.DeepCopy()
		}
		b.StartTimer()
		if err := Substitute(objs, pb, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchObjects, "ns/object")
}

// BenchmarkBuild5000Plain builds a plain directory of 5,000 objects with no
// field of the spec transforming them: the path that skips kustomize.
func BenchmarkBuild5000Plain(b *testing.B) {
	root := b.TempDir()
	writeScaledArtifact(b, root, benchObjects, false)
	b.ReportAllocs()
	for b.Loop() {
		objs, err := Build(context.Background(), root, &kustomizev1.KustomizationSpec{}, BuildOptions{NoRemoteBases: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != benchObjects {
			b.Fatalf("built %d objects, want %d", len(objs), benchObjects)
		}
	}
}

// writeSmallApp writes the four objects of the many-Kustomizations
// scenario (a ServiceAccount, a ConfigMap, a Service and a Deployment) as
// a plain directory.
func writeSmallApp(b testing.TB, dir string) {
	b.Helper()
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"sa.yaml":        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n",
		"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: hello\n",
		"service.yaml":   "apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector:\n    app: app\n  ports:\n    - port: 80\n      targetPort: 8080\n",
		"deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app\n" +
			"  template:\n    metadata:\n      labels:\n        app: app\n    spec:\n      serviceAccountName: app\n      containers:\n        - name: app\n          image: nginx:1.27\n          envFrom:\n            - configMapRef:\n                name: app\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildTargetNamespace4 builds a plain directory of four objects
// with only spec.targetNamespace set, as each Kustomization of the
// many-Kustomizations benchmark does.
func BenchmarkBuildTargetNamespace4(b *testing.B) {
	root := b.TempDir()
	writeSmallApp(b, root)
	spec := &kustomizev1.KustomizationSpec{Path: "app", TargetNamespace: "tenant-1"}
	b.ReportAllocs()
	for b.Loop() {
		objs, err := Build(context.Background(), root, spec, BuildOptions{NoRemoteBases: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 4 {
			b.Fatalf("built %d objects, want 4", len(objs))
		}
	}
}

// BenchmarkBuildTargetNamespace2000 builds a plain directory of 2,000
// objects with only spec.targetNamespace set.
func BenchmarkBuildTargetNamespace2000(b *testing.B) {
	root := b.TempDir()
	writeScaledArtifact(b, root, 2000, false)
	spec := &kustomizev1.KustomizationSpec{Path: "app", TargetNamespace: "tenant-1"}
	b.ReportAllocs()
	for b.Loop() {
		objs, err := Build(context.Background(), root, spec, BuildOptions{NoRemoteBases: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 2000 {
			b.Fatalf("built %d objects, want 2000", len(objs))
		}
	}
}
