package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
)

// The kinds of Flux's source-watcher: ExternalArtifacts (under "source
// external", as Flux names them) and the ArtifactGenerators that make them
// (under "artifact generator").
var (
	externalArtifactKind  = mustKind(sourcev1.ExternalArtifactKind)
	artifactGeneratorKind = mustKind(swv1.ArtifactGeneratorKind)
)

// artifactParent returns the "artifact" command that holds the
// "generator" subcommand of a verb.
func artifactParent(verb string, generator *cobra.Command) *cobra.Command {
	parent := &cobra.Command{
		Use:     "artifact",
		Short:   verb + " ArtifactGenerators",
		Example: "  gotk " + lowerFirst(verb) + " artifact generator NAME",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	parent.AddCommand(generator)
	return parent
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// isGeneratorSuspended reads the annotation that suspends an
// ArtifactGenerator, which has no spec.suspend.
func isGeneratorSuspended(u *unstructured.Unstructured) bool {
	return strings.EqualFold(u.GetAnnotations()[swv1.ReconcileAnnotation], swv1.ReconcileDisabled)
}

// producerOf returns the producer that an ExternalArtifact's
// spec.sourceRef names, when it is a kind gotk reconciles.
func producerOf(u *unstructured.Unstructured) (gotkKind, types.NamespacedName, error) {
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = u.GetNamespace()
	}
	if kind != swv1.ArtifactGeneratorKind || name == "" {
		return gotkKind{}, types.NamespacedName{}, fmt.Errorf(
			"ExternalArtifact %s/%s: spec.sourceRef (%q %q) names no ArtifactGenerator: its producer is not a gotk controller, so gotk cannot reconcile it",
			u.GetNamespace(), u.GetName(), kind, name)
	}
	return artifactGeneratorKind, types.NamespacedName{Namespace: ns, Name: name}, nil
}

// reconcileExternal reconciles the producer of the ExternalArtifact at key
// and waits until the ExternalArtifact is Ready, printing its revision.
func (c *cli) reconcileExternal(ctx context.Context, cl client.Client, key types.NamespacedName, timeout time.Duration) (*unstructured.Unstructured, error) {
	u, err := getObject(ctx, cl, externalArtifactKind, key)
	if err != nil {
		return nil, err
	}
	pk, pkey, err := producerOf(u)
	if err != nil {
		return nil, err
	}
	if _, err := c.reconcileAndWait(ctx, cl, pk, pkey, timeout); err != nil {
		return nil, err
	}
	u, err = c.waitFor(ctx, cl, externalArtifactKind, key, waitOptions{timeout: timeout})
	if err != nil {
		return u, err
	}
	c.printRevision(externalArtifactKind, u)
	return u, nil
}
