package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func newDeleteCmd(c *cli) *cobra.Command {
	var silent bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete gotk objects",
		Long: `Delete a source or a Kustomization, after a y/N question unless --silent.

Deleting a Kustomization with spec.prune deletes the objects it applied too
(its deletionPolicy decides); delete says how many before asking. Deleting a
source leaves what was applied from it, but its Kustomizations stop applying.`,
		Example: `  # Asks first
  gotk delete kustomization podinfo

  # No question asked
  gotk delete source git podinfo --silent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().BoolVar(&silent, "silent", false, "Do not ask for confirmation.")
	source := &cobra.Command{
		Use:     "source",
		Short:   "Delete sources",
		Example: "  gotk delete source git podinfo",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source.AddCommand(deleteKindCmd(c, &silent, gitRepositoryKind, &cobra.Command{
		Use:   "git NAME",
		Short: "Delete a GitRepository",
		Example: `  # Asks first
  gotk delete source git podinfo

  # In a script
  gotk delete source git podinfo -n apps --silent`,
	}), deleteKindCmd(c, &silent, helmRepositoryKind, &cobra.Command{
		Use:   "helm NAME",
		Short: "Delete a HelmRepository",
		Example: `  # Asks first
  gotk delete source helm podinfo`,
	}), deleteKindCmd(c, &silent, helmChartKind, &cobra.Command{
		Use:   "chart NAME",
		Short: "Delete a HelmChart",
		Example: `  # Asks first
  gotk delete source chart podinfo`,
	}), deleteKindCmd(c, &silent, ociRepositoryKind, &cobra.Command{
		Use:   "oci NAME",
		Short: "Delete an OCIRepository",
		Example: `  # Asks first
  gotk delete source oci podinfo`,
	}), deleteKindCmd(c, &silent, bucketKind, &cobra.Command{
		Use:   "bucket NAME",
		Short: "Delete a Bucket",
		Example: `  # Asks first
  gotk delete source bucket manifests`,
	}))
	cmd.AddCommand(source, deleteKindCmd(c, &silent, kustomizationKind, &cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Delete a Kustomization",
		Example: `  # Asks first, and says how many objects it prunes
  gotk delete kustomization podinfo

  # In a script
  gotk delete ks podinfo --silent`,
	}), newDeleteReceiverCmd(c, &silent))
	source.AddCommand(deleteKindCmd(c, &silent, externalArtifactKind, &cobra.Command{
		Use:   "external NAME",
		Short: "Delete an ExternalArtifact",
		Long: `Delete an ExternalArtifact. One that an ArtifactGenerator made is made again
by it: delete the artifact from the generator's spec instead.`,
		Example: `  # Asks first
  gotk delete source external apps`,
	}))
	cmd.AddCommand(artifactParent("Delete", deleteKindCmd(c, &silent, artifactGeneratorKind, &cobra.Command{
		Use:   "generator NAME",
		Short: "Delete an ArtifactGenerator and the ExternalArtifacts it made",
		Example: `  # Asks first
  gotk delete artifact generator flux-system`,
	})))
	cmd.AddCommand(deleteKindCmd(c, &silent, alertKind, &cobra.Command{
		Use:     "alert NAME",
		Short:   "Delete an Alert",
		Example: `  gotk delete alert ops`,
	}), deleteKindCmd(c, &silent, providerKind, &cobra.Command{
		Use:     "alert-provider NAME",
		Short:   "Delete a Provider",
		Example: `  gotk delete alert-provider slack`,
	}))
	cmd.AddCommand(deleteKindCmd(c, &silent, helmReleaseKind, &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Delete a HelmRelease, which uninstalls its Helm release",
		Example: `  # Asks first; the controller uninstalls the release (unless the HelmRelease is suspended)
  gotk delete helmrelease podinfo`,
	}))
	return cmd
}

func deleteKindCmd(c *cli, silent *bool, k gotkKind, cmd *cobra.Command) *cobra.Command {
	cmd.Args = exactlyOneName(k.Kind())
	cmd.ValidArgsFunction = c.completeNames(k)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := c.watchClient()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
		u, err := getObject(ctx, cl, k, key)
		if err != nil {
			return err
		}
		if k.Kind() == kustomizationKind.Kind() {
			warnPrune(c, u)
		}
		if !*silent {
			yes, err := confirm(c, fmt.Sprintf("Delete %s %s?", k.Kind(), key))
			if err != nil {
				return err
			}
			if !yes {
				return errCancelled
			}
		}
		return deleteObject(ctx, c, cl, k, u)
	}
	return cmd
}

// warnPrune says what deleting a pruning Kustomization takes with it.
func warnPrune(c *cli, u *unstructured.Unstructured) {
	prune, _, _ := unstructured.NestedBool(u.Object, "spec", "prune")
	policy, _, _ := unstructured.NestedString(u.Object, "spec", "deletionPolicy")
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	deletes := policy == "Delete" || policy == "WaitForTermination" || ((policy == "" || policy == "MirrorPrune") && prune)
	if deletes && len(entries) > 0 {
		c.status.warn("Kustomization %s/%s prunes: deleting it deletes the %d objects it applied (see gotk tree kustomization %s -n %s)",
			u.GetNamespace(), u.GetName(), len(entries), u.GetName(), u.GetNamespace())
	}
}

func deleteObject(ctx context.Context, c *cli, cl client.Client, k gotkKind, u *unstructured.Unstructured) error {
	if err := cl.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", k.Kind(), u.GetNamespace(), u.GetName(), err)
	}
	c.status.ok("%s %s/%s deleted", k.Kind(), u.GetNamespace(), u.GetName())
	return nil
}
