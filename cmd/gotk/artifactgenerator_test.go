package main

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// The commands over ArtifactGenerators and ExternalArtifacts, against the
// real reconcilers: get, reconcile (an ExternalArtifact through its
// generator), suspend and resume (the annotation Flux uses), export,
// create kustomization --source ExternalArtifact/NAME, tree, and delete.
func TestArtifactGeneratorCommands(t *testing.T) {
	e := objects(t)
	ns := e.Namespace(t)
	root := t.TempDir()
	gitserver.MustSeed(t, root, "mono.git", map[string]string{"apps/app.yaml": "kind: ConfigMap\n", "infra/infra.yaml": "kind: ConfigMap\n"})
	srv := gitserver.StartHTTP(t, root, gitserver.HTTPOptions{})
	if r := kgotk(t, "", "create", "source", "git", "mono", "--url="+srv.RepoURL("mono.git"), "--branch=main", "-n", ns); r.code != 0 {
		t.Fatalf("create source git:\n%s", r)
	}
	gen := &swv1.ArtifactGenerator{
		ObjectMeta: metav1.ObjectMeta{Name: "split", Namespace: ns},
		Spec: swv1.ArtifactGeneratorSpec{
			Sources: []swv1.SourceReference{{Alias: "mono", Kind: sourcev1.GitRepositoryKind, Name: "mono"}},
			Artifacts: []swv1.OutputArtifact{
				{Name: "apps", Copy: []swv1.CopyOperation{{From: "@mono/apps/**", To: "@artifact/"}}},
				{Name: "infra", Copy: []swv1.CopyOperation{{From: "@mono/infra/**", To: "@artifact/"}}},
			},
		},
	}
	if err := e.Client.Create(context.Background(), gen); err != nil {
		t.Fatal(err)
	}

	r := kgotk(t, "", "reconcile", "artifact", "generator", "split", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "ArtifactGenerator reconciled") {
		t.Fatalf("reconcile artifact generator:\n%s", r)
	}
	r = kgotk(t, "", "get", "artifact", "generator", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "split") || !strings.Contains(r.stdout, "generated 2 artifact(s): apps, infra") {
		t.Errorf("get artifact generator:\n%s", r)
	}
	r = kgotk(t, "", "get", "sources", "external", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "\napps    latest@sha256:") || !strings.Contains(r.stdout, "\ninfra   latest@sha256:") {
		t.Errorf("get sources external: want apps and infra with their revisions:\n%s", r)
	}
	r = kgotk(t, "", "reconcile", "source", "external", "apps", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "fetched revision latest@sha256:") {
		t.Errorf("reconcile source external:\n%s", r)
	}

	r = kgotk(t, "", "suspend", "artifact", "generator", "split", "-n", ns)
	if r.code != 0 {
		t.Fatalf("suspend:\n%s", r)
	}
	g := &swv1.ArtifactGenerator{}
	if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(gen), g); err != nil {
		t.Fatal(err)
	}
	if !g.IsSuspended() {
		t.Errorf("annotations %v: not suspended", g.Annotations)
	}
	r = kgotk(t, "", "reconcile", "source", "external", "apps", "-n", ns)
	if r.code != 1 || !strings.Contains(r.stderr, "is suspended, run gotk resume first: gotk resume artifact generator split") {
		t.Errorf("reconcile of a suspended generator's artifact:\n%s", r)
	}
	r = kgotk(t, "", "resume", "artifact", "generator", "split", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "ArtifactGenerator reconciled") {
		t.Errorf("resume:\n%s", r)
	}

	r = kgotk(t, "", "export", "artifact", "generator", "split", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "kind: ArtifactGenerator") || !strings.Contains(r.stdout, "@mono/apps/**") || strings.Contains(r.stdout, "inventory") {
		t.Errorf("export artifact generator:\n%s", r)
	}
	r = kgotk(t, "", "create", "kustomization", "apps", "--source=ExternalArtifact/apps", "--path=./", "--export", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "kind: ExternalArtifact") {
		t.Errorf("create kustomization --source ExternalArtifact/apps --export:\n%s", r)
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns, Labels: map[string]string{unmanagedLabel: "true"}},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.ExternalArtifactKind, Name: "apps"},
			Path:      "./", Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := e.Client.Create(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	r = kgotk(t, "", "tree", "artifact", "generator", "split", "-n", ns)
	want := "ArtifactGenerator/" + ns + "/split\n" +
		"├── ExternalArtifact/" + ns + "/apps\n" +
		"│   └── Kustomization/" + ns + "/apps\n" +
		"└── ExternalArtifact/" + ns + "/infra\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("tree artifact generator: want\n%s\ngot:\n%s", want, r)
	}

	r = kgotk(t, "", "delete", "artifact", "generator", "split", "--silent", "-n", ns)
	if r.code != 0 {
		t.Fatalf("delete artifact generator:\n%s", r)
	}
	eventually(t, "the ExternalArtifacts deleted with their generator", func() bool {
		err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "apps"}, &sourcev1.ExternalArtifact{})
		return apierrors.IsNotFound(err)
	}, func() string { return kgotk(t, "", "get", "sources", "external", "-n", ns).stdout })
}
