package artifactgenerator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/controller/artifactgenerator"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
)

func simpleGenerator(ns string, copies ...swv1.CopyOperation) *swv1.ArtifactGenerator {
	return &swv1.ArtifactGenerator{
		ObjectMeta: metav1.ObjectMeta{Name: "gen", Namespace: ns},
		Spec: swv1.ArtifactGeneratorSpec{
			Sources:   []swv1.SourceReference{{Alias: "repo", Kind: sourcev1.GitRepositoryKind, Name: "repo"}},
			Artifacts: []swv1.OutputArtifact{{Name: "app", Copy: copies}},
		},
	}
}

func updateGenerator(t *testing.T, key client.ObjectKey, mutate func(*swv1.ArtifactGenerator)) {
	t.Helper()
	g := &swv1.ArtifactGenerator{}
	if err := env.Client.Get(context.Background(), key, g); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(g.DeepCopy())
	mutate(g)
	if err := env.Client.Patch(context.Background(), g, patch); err != nil {
		t.Fatal(err)
	}
}

// A rule that matches nothing fails the generator with a message naming
// the rule, and the ExternalArtifact keeps serving its last good artifact;
// fixing the rule recovers.
func TestRuleMatchingNothingNamesTheRuleAndKeepsLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	newRepo(t, ns, "repo", map[string]string{"deploy/app.yaml": "kind: App\n"})
	gen := createGenerator(t, simpleGenerator(ns, swv1.CopyOperation{From: "@repo/deploy/**", To: "@artifact/"}))
	generatorReady(t, gen)
	good := externalArtifact(t, ns, "app", nil)

	updateGenerator(t, gen, func(g *swv1.ArtifactGenerator) {
		g.Spec.Artifacts[0].Copy = append(g.Spec.Artifacts[0].Copy, swv1.CopyOperation{From: "@repo/missing/**", To: "@artifact/more/"})
	})
	failed := waitGenerator(t, gen, "failed", func(g *swv1.ArtifactGenerator) bool {
		return runtime.IsFalse(g, meta.ReadyCondition)
	})
	msg := runtime.Message(failed, meta.ReadyCondition)
	for _, want := range []string{"spec.artifacts[0].copy[1]", `"@repo/missing/**"`, "matches nothing", `no file of source "repo"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not say %q", msg, want)
		}
	}
	if reason := runtime.Reason(failed, meta.ReadyCondition); reason != artifactgenerator.BuildFailedReason {
		t.Errorf("Ready reason %q, want %s", reason, artifactgenerator.BuildFailedReason)
	}
	kept := externalArtifact(t, ns, "app", nil)
	if kept.Status.Artifact.Digest != good.Status.Artifact.Digest || !runtime.IsReady(kept) {
		t.Errorf("ExternalArtifact moved off its last good artifact: %s -> %s", good.Status.Artifact.Digest, kept.Status.Artifact.Digest)
	}
	testenv.FetchArtifact(t, kept.Status.Artifact)

	updateGenerator(t, gen, func(g *swv1.ArtifactGenerator) {
		g.Spec.Artifacts[0].Copy[1].From = "@repo/deploy/app.yaml"
	})
	generatorReady(t, gen)
	externalArtifact(t, ns, "app", func(a *meta.Artifact) bool { return a.Digest != good.Status.Artifact.Digest })
}

// Rules that would read outside their source, or write outside the
// artifact, stall the generator with a message naming the field; so do an
// unknown alias and duplicate names.
func TestInvalidRulesStallNamingTheField(t *testing.T) {
	ns := env.Namespace(t)
	newRepo(t, ns, "repo", map[string]string{"deploy/app.yaml": "kind: App\n"})
	for i, tc := range []struct {
		name   string
		mutate func(*swv1.ArtifactGenerator)
		want   []string
	}{
		{"from escapes", func(g *swv1.ArtifactGenerator) {
			g.Spec.Artifacts[0].Copy[0].From = "@repo/../../etc/**"
		}, []string{"spec.artifacts[0].copy[0].from", "escapes its source", "'..'"}},
		{"to escapes", func(g *swv1.ArtifactGenerator) {
			g.Spec.Artifacts[0].Copy[0].To = "@artifact/../outside/"
		}, []string{"spec.artifacts[0].copy[0].to", "escapes the artifact"}},
		{"unknown alias", func(g *swv1.ArtifactGenerator) {
			g.Spec.Artifacts[0].Copy[0].From = "@other/deploy/**"
		}, []string{"spec.artifacts[0].copy[0].from", `alias "other" is not in spec.sources`}},
		{"duplicate artifact", func(g *swv1.ArtifactGenerator) {
			g.Spec.Artifacts = append(g.Spec.Artifacts, g.Spec.Artifacts[0])
		}, []string{"spec.artifacts[1].name", "already the name of spec.artifacts[0]"}},
		{"path pattern", func(g *swv1.ArtifactGenerator) {
			g.Spec.PathPattern = "@repo/apps/{app}"
		}, []string{"spec.pathPattern", "not supported yet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := simpleGenerator(ns, swv1.CopyOperation{From: "@repo/deploy/**", To: "@artifact/"})
			g.Name = "gen" + string(rune('a'+i))
			g.Spec.Artifacts[0].Name = g.Name
			tc.mutate(g)
			key := createGenerator(t, g)
			stalled := waitGenerator(t, key, "stalled", func(g *swv1.ArtifactGenerator) bool { return runtime.IsStalled(g) })
			msg := runtime.Message(stalled, meta.ReadyCondition)
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("Ready message %q does not say %q", msg, want)
				}
			}
			ea := &sourcev1.ExternalArtifact{}
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: g.Name}, ea); !apierrors.IsNotFound(err) {
				t.Errorf("an ExternalArtifact was made from an invalid spec (err %v)", err)
			}
		})
	}
}

// A missing source is waited for, named; once it has an artifact the
// generator goes on.
func TestMissingSourceIsWaitedFor(t *testing.T) {
	ns := env.Namespace(t)
	gen := createGenerator(t, simpleGenerator(ns, swv1.CopyOperation{From: "@repo/deploy/**", To: "@artifact/"}))
	waiting := waitGenerator(t, gen, "waiting for its source", func(g *swv1.ArtifactGenerator) bool {
		return runtime.Reason(g, meta.ReadyCondition) == artifactgenerator.SourceFetchFailedReason
	})
	if msg := runtime.Message(waiting, meta.ReadyCondition); !strings.Contains(msg, "GitRepository '"+ns+"/repo' not found") {
		t.Errorf("Ready message %q does not name the missing GitRepository", msg)
	}
	newRepo(t, ns, "repo", map[string]string{"deploy/app.yaml": "kind: App\n"})
	generatorReady(t, gen)
	externalArtifact(t, ns, "app", nil)
}

// An ExternalArtifact deleted by hand is made again; an artifact dropped
// from the spec loses its ExternalArtifact and its stored files; deleting
// the generator removes the rest.
func TestArtifactsDroppedFromSpecOrGeneratorAreDeleted(t *testing.T) {
	ns := env.Namespace(t)
	newRepo(t, ns, "repo", map[string]string{"a/x.yaml": "kind: A\n", "b/y.yaml": "kind: B\n"})
	g := simpleGenerator(ns, swv1.CopyOperation{From: "@repo/a/**", To: "@artifact/"})
	g.Spec.Artifacts = append(g.Spec.Artifacts, swv1.OutputArtifact{Name: "b", Copy: []swv1.CopyOperation{{From: "@repo/b/**", To: "@artifact/"}}})
	gen := createGenerator(t, g)
	generatorReady(t, gen)
	a := externalArtifact(t, ns, "app", nil)
	b := externalArtifact(t, ns, "b", nil)

	// One deleted by hand is made again.
	if err := env.Client.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	externalArtifact(t, ns, "b", func(*meta.Artifact) bool {
		again := &sourcev1.ExternalArtifact{}
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "b"}, again) == nil && again.UID != b.UID
	})
	b = externalArtifact(t, ns, "b", nil)

	updateGenerator(t, gen, func(g *swv1.ArtifactGenerator) { g.Spec.Artifacts = g.Spec.Artifacts[:1] })
	ready := generatorReady(t, gen)
	if len(ready.Status.Inventory) != 1 || ready.Status.Inventory[0].Name != "app" {
		t.Errorf("inventory %+v, want app alone", ready.Status.Inventory)
	}
	gone(t, ns, "b", b.Status.Artifact)
	if !storage.Exists(*a.Status.Artifact) {
		t.Errorf("the artifact of app, still in the spec, was removed")
	}

	if err := env.Client.Delete(context.Background(), &swv1.ArtifactGenerator{ObjectMeta: metav1.ObjectMeta{Name: gen.Name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	gone(t, ns, "app", a.Status.Artifact)
	eventually(t, "the generator gone", func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), gen, &swv1.ArtifactGenerator{}))
	})
}

// gone waits until the ExternalArtifact ns/name no longer exists and
// checks that its stored files went with it.
func gone(t *testing.T, ns, name string, art *meta.Artifact) {
	t.Helper()
	eventually(t, "ExternalArtifact "+ns+"/"+name+" deleted", func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &sourcev1.ExternalArtifact{}))
	})
	dir, err := artifact.Ref{Kind: sourcev1.ExternalArtifactKind, Namespace: ns, Name: name}.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(storage.BasePath(), dir)); !os.IsNotExist(err) {
		t.Errorf("the stored files of %s/%s are still there (%s): %v", ns, name, art.Path, err)
	}
}
