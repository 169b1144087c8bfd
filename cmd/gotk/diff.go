package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/internal/ssa"
)

func newDiffCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what applying a gotk object would change in the cluster",
		Example: `  # Show the drift between the cluster and the Kustomization podinfo
  gotk diff kustomization podinfo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var localPath string
	var keyFiles []string
	ks := &cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Show what applying a Kustomization would change",
		Long: `Build a Kustomization as gotk build kustomization does, then ask the API server
what applying the result would change (server-side apply in dry-run mode, as
the field manager kustomize-controller with the spec's force and ignore
settings) and print it:

  ► Kind/namespace/name created    an object that does not exist yet
  ► Kind/namespace/name drifted    an object that differs, with a unified diff
                                   from the live object to the applied one
  ► Kind/namespace/name deleted    an object of status.inventory that the
                                   build no longer has, when spec.prune is set

Unchanged objects print nothing. The values of Secrets are masked: a changed
value shows as "*** (before)" and "*** (after)". The diff runs with your own
credentials, not the Kustomization's service account. Nothing is written.

Exit code: 0 when nothing would change (and nothing is printed), 1 when
something would, 2 when the diff could not be computed.

--path builds a local directory instead of the source's artifact, and
--decryption-key decrypts SOPS-encrypted files with a local key instead of the
keys of the decryption Secret; see gotk build kustomization --help.`,
		Example: `  # What would the next apply change?
  gotk diff kustomization podinfo

  # What would a local change apply?
  gotk diff kustomization podinfo --path ./kustomize`,
		Args:              exactlyOneName("Kustomization"),
		ValidArgsFunction: c.completeNames(kustomizationKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed, err := runDiff(cmd.Context(), c, types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}, localPath, keyFiles)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if changed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	ks.Flags().StringVar(&localPath, "path", "", "Local directory to build instead of the source's artifact; it stands for spec.path.")
	_ = ks.MarkFlagDirname("path")
	addDecryptionKeyFlag(ks, &keyFiles)
	cmd.AddCommand(ks, newDiffHelmReleaseCmd(c), newDiffArtifactCmd(c))
	return cmd
}

// runDiff prints what applying the Kustomization key would change and
// reports whether anything would.
func runDiff(ctx context.Context, c *cli, key types.NamespacedName, localPath string, keyFiles []string) (bool, error) {
	cl, err := c.watchClient()
	if err != nil {
		return false, err
	}
	ks, objs, err := buildKustomization(ctx, cl, key, localPath, keyFiles)
	if err != nil {
		return false, err
	}
	m := ssa.New(cl, kustomizev1.FieldManager, ssa.KustomizationOwner(ks.Name, ks.Namespace))
	diffs, changed, err := m.Diff(ctx, objs, ssa.ApplyOptions{Force: ks.Spec.Force, Ignore: ks.Spec.Ignore})
	if err != nil {
		return false, fmt.Errorf("diff of Kustomization %s: %w", key, err)
	}
	color := colorAllowed(c.out)
	printDiffs(c.out, color, diffs)
	if !ks.Spec.Prune {
		return changed, nil
	}
	stale, err := staleObjects(ctx, cl, ks, objs)
	if err != nil {
		return false, err
	}
	for _, ref := range stale {
		printDiffHeader(c.out, color, ref, "deleted")
	}
	return changed || len(stale) > 0, nil
}

// staleObjects lists the objects of the Kustomization's inventory that
// the build no longer has and that a prune would delete: those that still
// exist, carry this Kustomization's owner labels, and are not marked
// prune: disabled.
func staleObjects(ctx context.Context, cl client.Client, ks *kustomizev1.Kustomization, objs []*unstructured.Unstructured) ([]ssa.ObjectRef, error) {
	cs := &ssa.ChangeSet{}
	for _, o := range objs {
		cs.Add(ssa.RefOf(o), ssa.ActionCreated)
	}
	candidates, err := ssa.Diff(ks.Status.Inventory, ssa.Inventory(cs))
	if err != nil {
		return nil, fmt.Errorf("Kustomization %s/%s: status.inventory: %w", ks.Namespace, ks.Name, err)
	}
	owner := ssa.KustomizationOwner(ks.Name, ks.Namespace)
	var out []ssa.ObjectRef
	for _, ref := range candidates {
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(ref.GroupVersionKind())
		err := cl.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		switch {
		case apierrors.IsNotFound(err), apimeta.IsNoMatchError(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", ref, err)
		}
		labels, ann := live.GetLabels(), live.GetAnnotations()
		owned := true
		for k, v := range owner {
			owned = owned && labels[k] == v
		}
		disabled := func(key string) bool {
			return labels[key] == kustomizev1.DisabledValue || ann[key] == kustomizev1.DisabledValue
		}
		if !owned || disabled(kustomizev1.PruneAnnotation) || disabled(kustomizev1.ReconcileAnnotation) {
			continue
		}
		out = append(out, ref)
	}
	return out, nil
}

func printDiffHeader(w io.Writer, color bool, ref ssa.ObjectRef, what string) {
	if color {
		fmt.Fprintf(w, "%s►%s %s %s\n", colorBlue, colorReset, ref, what)
		return
	}
	fmt.Fprintf(w, "► %s %s\n", ref, what)
}

// printUnifiedDiff writes a unified diff, with removed lines red and added
// lines green when color is on.
func printUnifiedDiff(w io.Writer, color bool, text string) {
	if !color {
		fmt.Fprint(w, text)
		if text != "" && !strings.HasSuffix(text, "\n") {
			fmt.Fprintln(w)
		}
		return
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		body := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(body, "---"), strings.HasPrefix(body, "+++"):
			fmt.Fprintln(w, body)
		case strings.HasPrefix(body, "-"):
			fmt.Fprintf(w, "%s%s%s\n", colorRed, body, colorReset)
		case strings.HasPrefix(body, "+"):
			fmt.Fprintf(w, "%s%s%s\n", colorGreen, body, colorReset)
		case strings.HasPrefix(body, "@@"):
			fmt.Fprintf(w, "%s%s%s\n", colorBlue, body, colorReset)
		default:
			fmt.Fprintln(w, body)
		}
	}
}

// printDiffs prints the objects that an apply would create, and those it
// would change with a unified diff of each.
func printDiffs(w io.Writer, color bool, diffs []ssa.ObjectDiff) {
	for _, d := range diffs {
		switch d.Action {
		case ssa.ActionCreated:
			printDiffHeader(w, color, d.Ref, "created")
		case ssa.ActionConfigured:
			printDiffHeader(w, color, d.Ref, "drifted")
			printUnifiedDiff(w, color, d.Diff)
		}
	}
}
