package artifactgenerator_test

import (
	"context"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// exampleRepo is the layout of Flux's flux2-kustomize-helm-example, cut
// down to ConfigMaps: infrastructure controllers and configs per cluster,
// apps as a base with a staging overlay.
func exampleRepo(color string) map[string]string {
	return map[string]string{
		"infrastructure/controllers/staging/kustomization.yaml": "resources:\n- ingress.yaml\n",
		"infrastructure/controllers/staging/ingress.yaml":       configMap("ingress-nginx", "replicas", "2"),
		"infrastructure/configs/staging/kustomization.yaml":     "resources:\n- issuer.yaml\n",
		"infrastructure/configs/staging/issuer.yaml":            configMap("cluster-issuer", "server", "staging"),
		"apps/base/podinfo/kustomization.yaml":                  "resources:\n- release.yaml\n",
		"apps/base/podinfo/release.yaml":                        configMap("podinfo", "color", color),
		"apps/staging/kustomization.yaml":                       "resources:\n- ../base/podinfo\n",
		"clusters/staging/README.md":                            "cluster objects\n",
	}
}

func configMap(name, key, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  " + key + ": \"" + value + "\"\n"
}

// exampleGenerator splits the repository as the example's
// clusters/staging/artifacts.yaml does.
func exampleGenerator(ns string) *swv1.ArtifactGenerator {
	return &swv1.ArtifactGenerator{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: ns},
		Spec: swv1.ArtifactGeneratorSpec{
			Sources: []swv1.SourceReference{{Alias: "monorepo", Kind: sourcev1.GitRepositoryKind, Name: "flux-system"}},
			Artifacts: []swv1.OutputArtifact{
				{
					Name:           "infrastructure",
					OriginRevision: "@monorepo",
					Copy:           []swv1.CopyOperation{{From: "@monorepo/infrastructure/**", To: "@artifact/"}},
				},
				{
					Name:           "apps",
					OriginRevision: "@monorepo",
					Copy: []swv1.CopyOperation{
						{From: "@monorepo/apps/base/**", To: "@artifact/base/"},
						{From: "@monorepo/apps/staging/**", To: "@artifact/staging/"},
					},
				},
			},
		},
	}
}

func cmData(t *testing.T, ns, name, key string) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		return ""
	}
	return cm.Data[key]
}

// The example's layout end to end: one GitRepository, an
// ArtifactGenerator splitting it into infrastructure and apps, and
// Kustomizations on both; then a commit that touches apps/ alone gives
// apps a new revision, applied, while infrastructure's ExternalArtifact is
// not even written and its Kustomization stays at its revision.
func TestFluxExampleLayoutCommitToAppsLeavesInfrastructureAlone(t *testing.T) {
	ns := env.Namespace(t)
	r := newRepo(t, ns, "flux-system", exampleRepo("blue"))
	gen := createGenerator(t, exampleGenerator(ns))
	target := func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns }
	infraCtrl := newKustomization(t, ns, "infra-controllers", "infrastructure", "./controllers/staging", target)
	infraCfg := newKustomization(t, ns, "infra-configs", "infrastructure", "./configs/staging", func(k *kustomizev1.Kustomization) {
		target(k)
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "infra-controllers"}}
	})
	apps := newKustomization(t, ns, "apps", "apps", "./staging", func(k *kustomizev1.Kustomization) {
		target(k)
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "infra-configs"}}
	})

	g := generatorReady(t, gen)
	if len(g.Status.Inventory) != 2 {
		t.Fatalf("inventory %+v, want infrastructure and apps", g.Status.Inventory)
	}
	infra := externalArtifact(t, ns, "infrastructure", nil)
	app := externalArtifact(t, ns, "apps", nil)
	head := r.head()
	for _, ea := range []*sourcev1.ExternalArtifact{infra, app} {
		art := ea.Status.Artifact
		if art.Revision != "latest@"+art.Digest {
			t.Errorf("%s: revision %q, want latest@<its digest %s>", ea.Name, art.Revision, art.Digest)
		}
		if art.OriginRevision() != head {
			t.Errorf("%s: origin revision %q, want the commit %s", ea.Name, art.OriginRevision(), head)
		}
		ref := ea.Spec.SourceRef
		if ref == nil || ref.Kind != swv1.ArtifactGeneratorKind || ref.Name != "flux-system" || ref.Namespace != ns {
			t.Errorf("%s: spec.sourceRef %+v, want the generator", ea.Name, ref)
		}
		if len(ea.OwnerReferences) != 1 || ea.OwnerReferences[0].Name != "flux-system" {
			t.Errorf("%s: owner references %+v, want the generator", ea.Name, ea.OwnerReferences)
		}
	}
	got := files(t, unpack(t, infra.Status.Artifact))
	if len(got) != 4 || got["controllers/staging/ingress.yaml"] == "" || got["configs/staging/issuer.yaml"] == "" {
		t.Errorf("infrastructure artifact holds %v, want infrastructure/ without its prefix", keys(got))
	}
	got = files(t, unpack(t, app.Status.Artifact))
	if len(got) != 3 || got["base/podinfo/release.yaml"] == "" || got["staging/kustomization.yaml"] == "" {
		t.Errorf("apps artifact holds %v, want base/ and staging/", keys(got))
	}

	kustomizationAt(t, infraCtrl, infra.Status.Artifact.Revision)
	kustomizationAt(t, infraCfg, infra.Status.Artifact.Revision)
	appsKs := kustomizationAt(t, apps, app.Status.Artifact.Revision)
	if appsKs.Status.LastAppliedOriginRevision != head {
		t.Errorf("apps lastAppliedOriginRevision %q, want %s", appsKs.Status.LastAppliedOriginRevision, head)
	}
	if v := cmData(t, ns, "podinfo", "color"); v != "blue" {
		t.Fatalf("podinfo color %q, want blue", v)
	}
	infraKsBefore := kustomizationAt(t, infraCtrl, infra.Status.Artifact.Revision)

	// A commit to apps/ only.
	newHead := r.push(map[string]string{"apps/base/podinfo/release.yaml": exampleRepo("green")["apps/base/podinfo/release.yaml"]})
	waitGenerator(t, gen, "ready at the new commit", func(n *swv1.ArtifactGenerator) bool {
		return runtime.IsReady(n) && n.Status.ObservedSourcesDigest != g.Status.ObservedSourcesDigest
	})
	app2 := externalArtifact(t, ns, "apps", nil)
	if app2.Status.Artifact.Revision == app.Status.Artifact.Revision {
		t.Fatalf("apps revision stayed %s after a commit that changed apps/", app.Status.Artifact.Revision)
	}
	if app2.Status.Artifact.OriginRevision() != newHead {
		t.Errorf("apps origin revision %q, want the new commit %s", app2.Status.Artifact.OriginRevision(), newHead)
	}
	kustomizationAt(t, apps, app2.Status.Artifact.Revision)
	if v := cmData(t, ns, "podinfo", "color"); v != "green" {
		t.Fatalf("podinfo color %q after the apps commit, want green", v)
	}

	infraAfter := &sourcev1.ExternalArtifact{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(infra), infraAfter); err != nil {
		t.Fatal(err)
	}
	if infraAfter.Status.Artifact.Revision != infra.Status.Artifact.Revision || infraAfter.ResourceVersion != infra.ResourceVersion {
		t.Errorf("infrastructure ExternalArtifact changed on a commit to apps/: revision %s -> %s, resourceVersion %s -> %s",
			infra.Status.Artifact.Revision, infraAfter.Status.Artifact.Revision, infra.ResourceVersion, infraAfter.ResourceVersion)
	}
	// Its origin revision stays the commit it was made from: the artifact
	// was not rewritten for the new one.
	if infraAfter.Status.Artifact.OriginRevision() != head {
		t.Errorf("infrastructure origin revision %q, want the first commit %s", infraAfter.Status.Artifact.OriginRevision(), head)
	}
	infraKsAfter := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), infraCtrl, infraKsAfter); err != nil {
		t.Fatal(err)
	}
	if infraKsAfter.Status.LastAppliedRevision != infraKsBefore.Status.LastAppliedRevision ||
		infraKsAfter.Status.LastAttemptedRevision != infraKsBefore.Status.LastAttemptedRevision {
		t.Errorf("infra-controllers moved on a commit to apps/: applied %s -> %s",
			infraKsBefore.Status.LastAppliedRevision, infraKsAfter.Status.LastAppliedRevision)
	}

	// And the other way round: a commit to infrastructure/ gives
	// infrastructure a new revision and leaves apps alone.
	r.push(map[string]string{"infrastructure/controllers/staging/ingress.yaml": configMap("ingress-nginx", "replicas", "3")})
	infra3 := externalArtifact(t, ns, "infrastructure", func(a *meta.Artifact) bool { return a.Revision != infra.Status.Artifact.Revision })
	kustomizationAt(t, infraCtrl, infra3.Status.Artifact.Revision)
	if v := cmData(t, ns, "ingress-nginx", "replicas"); v != "3" {
		t.Fatalf("ingress-nginx replicas %q, want 3", v)
	}
	app3 := externalArtifact(t, ns, "apps", nil)
	if app3.ResourceVersion != app2.ResourceVersion {
		t.Errorf("apps ExternalArtifact was written on a commit to infrastructure/ (revision %s -> %s)",
			app2.Status.Artifact.Revision, app3.Status.Artifact.Revision)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
