package artifactgenerator_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
)

// chartTarball packs a small Helm chart, podinfo/, as `helm package` does.
func chartTarball(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"podinfo/Chart.yaml":                "apiVersion: v2\nname: podinfo\nversion: 6.5.0\n",
		"podinfo/values.yaml":               "replicaCount: 1\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.5.0\nports: [9898]\n",
		"podinfo/templates/deployment.yaml": "kind: Deployment\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := artifact.Archive(dir, &buf, nil); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Extract unpacks a chart tarball into the artifact and Merge folds a
// values file into the chart's own, as Helm merges values: maps key by
// key, lists replaced whole. revision "@repo" takes the Git revision.
func TestExtractAndMergeStrategiesComposeAChart(t *testing.T) {
	ns := env.Namespace(t)
	r := newRepo(t, ns, "charts", map[string]string{
		"charts/podinfo-6.5.0.tgz":        chartTarball(t),
		"charts/README.md":                "not a tarball: passed over by Extract\n",
		"values/podinfo-values-prod.yaml": "replicaCount: 3\nimage:\n  tag: 6.5.1\nports: [8080]\n---\nextra:\n  enabled: true\n",
	})
	gen := createGenerator(t, &swv1.ArtifactGenerator{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: swv1.ArtifactGeneratorSpec{
			Sources: []swv1.SourceReference{{Alias: "repo", Kind: sourcev1.GitRepositoryKind, Name: "charts"}},
			Artifacts: []swv1.OutputArtifact{{
				Name:     "podinfo-composite",
				Revision: "@repo",
				Copy: []swv1.CopyOperation{
					{From: "@repo/charts/*", To: "@artifact/", Strategy: swv1.ExtractStrategy},
					{From: "@repo/values/podinfo-values-prod.yaml", To: "@artifact/podinfo/values.yaml", Strategy: swv1.MergeStrategy},
				},
			}},
		},
	})
	generatorReady(t, gen)
	ea := externalArtifact(t, ns, "podinfo-composite", nil)
	if ea.Status.Artifact.Revision != r.head() {
		t.Errorf("revision %q, want the Git revision %s (revision: @repo)", ea.Status.Artifact.Revision, r.head())
	}
	got := files(t, unpack(t, ea.Status.Artifact))
	if len(got) != 3 || got["podinfo/Chart.yaml"] == "" || got["podinfo/templates/deployment.yaml"] == "" {
		t.Fatalf("artifact holds %v, want the unpacked chart", keys(got))
	}
	var values map[string]any
	if err := yaml.Unmarshal([]byte(got["podinfo/values.yaml"]), &values); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"replicaCount": float64(3),
		"image":        map[string]any{"repository": "ghcr.io/stefanprodan/podinfo", "tag": "6.5.1"},
		"ports":        []any{float64(8080)},
		"extra":        map[string]any{"enabled": true},
	}
	if !equalYAML(values, want) {
		t.Errorf("merged values.yaml:\n%s\nwant %v", got["podinfo/values.yaml"], want)
	}
}

// Overwrite (the default) replaces a file an earlier rule wrote; exclude
// leaves files out, by path or by base name.
func TestOverwriteStrategyAndExclude(t *testing.T) {
	ns := env.Namespace(t)
	newRepo(t, ns, "mono", map[string]string{
		"deploy/app.yaml":           "kind: App\n",
		"deploy/app_test.yaml":      "kind: Test\n",
		"deploy/docs/README.md":     "docs\n",
		"deploy/tests/fixture.yaml": "kind: Fixture\n",
		"overrides/app.yaml":        "kind: App\nreplicas: 2\n",
	})
	gen := createGenerator(t, &swv1.ArtifactGenerator{
		ObjectMeta: metav1.ObjectMeta{Name: "gen", Namespace: ns},
		Spec: swv1.ArtifactGeneratorSpec{
			Sources: []swv1.SourceReference{{Alias: "mono", Kind: sourcev1.GitRepositoryKind, Name: "mono"}},
			Artifacts: []swv1.OutputArtifact{{
				Name: "app",
				Copy: []swv1.CopyOperation{
					{From: "@mono/deploy/**", To: "@artifact/", Exclude: []string{"*_test.yaml", "*.md", "tests/**"}},
					{From: "@mono/overrides/app.yaml", To: "@artifact/app.yaml"},
				},
			}},
		},
	})
	generatorReady(t, gen)
	got := files(t, unpack(t, externalArtifact(t, ns, "app", nil).Status.Artifact))
	if len(got) != 1 || got["app.yaml"] != "kind: App\nreplicas: 2\n" {
		t.Errorf("artifact holds %v, want app.yaml alone, overwritten by the second rule", got)
	}
}

func equalYAML(a, b any) bool {
	ja, _ := yaml.Marshal(a)
	jb, _ := yaml.Marshal(b)
	return string(ja) == string(jb)
}
