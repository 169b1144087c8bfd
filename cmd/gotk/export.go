package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func newExportCmd(c *cli) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print objects as clean YAML, ready to commit to Git",
		Long: `Print objects from the cluster as YAML that can be committed to Git and
applied again: apiVersion, kind, name, namespace, labels, annotations and
spec. Status and the fields the server sets (uid, resourceVersion,
generation, creationTimestamp, managedFields, finalizers) are left out, and
so are the annotations that record how the object was last changed
(kubectl's last-applied-configuration, reconcile requests).`,
		Example: `  # One GitRepository
  gotk export source git podinfo > podinfo-source.yaml

  # Every Kustomization of the namespace
  gotk export kustomization --all -n apps > apps.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().BoolVar(&all, "all", false, "Every object of the kind in the namespace.")
	source := &cobra.Command{
		Use:     "source",
		Short:   "Export sources",
		Example: "  gotk export source git podinfo",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source.AddCommand(exportKindCmd(c, &all, gitRepositoryKind, &cobra.Command{
		Use:   "git [NAME]",
		Short: "Export GitRepositories",
		Example: `  # One
  gotk export source git podinfo

  # All of the namespace
  gotk export source git --all -n gotk-system`,
	}), exportKindCmd(c, &all, helmRepositoryKind, &cobra.Command{
		Use:   "helm [NAME]",
		Short: "Export HelmRepositories",
		Example: `  # One
  gotk export source helm podinfo

  # All of the namespace
  gotk export source helm --all -n gotk-system`,
	}), exportKindCmd(c, &all, helmChartKind, &cobra.Command{
		Use:   "chart [NAME]",
		Short: "Export HelmCharts",
		Example: `  # One
  gotk export source chart podinfo

  # All of the namespace
  gotk export source chart --all -n gotk-system`,
	}), exportKindCmd(c, &all, ociRepositoryKind, &cobra.Command{
		Use:   "oci [NAME]",
		Short: "Export OCIRepositories",
		Example: `  # All of the namespace
  gotk export source oci --all -n gotk-system`,
	}), exportKindCmd(c, &all, bucketKind, &cobra.Command{
		Use:   "bucket [NAME]",
		Short: "Export Buckets",
		Example: `  # All of the namespace
  gotk export source bucket --all -n gotk-system`,
	}))
	cmd.AddCommand(source, exportKindCmd(c, &all, kustomizationKind, &cobra.Command{
		Use:     "kustomization [NAME]",
		Aliases: []string{"ks", "kustomizations"},
		Short:   "Export Kustomizations",
		Example: `  # One
  gotk export kustomization podinfo

  # All of the namespace
  gotk export ks --all`,
	}), newExportReceiverCmd(c, &all))
	source.AddCommand(exportKindCmd(c, &all, externalArtifactKind, &cobra.Command{
		Use:   "external [NAME]",
		Short: "Export ExternalArtifacts",
		Long: `Export ExternalArtifacts. Those an ArtifactGenerator made are made again from it:
export the generator (gotk export artifact generator) to recreate them.`,
		Example: `  # One
  gotk export source external apps`,
	}))
	cmd.AddCommand(artifactParent("Export", exportKindCmd(c, &all, artifactGeneratorKind, &cobra.Command{
		Use:   "generator [NAME]",
		Short: "Export ArtifactGenerators",
		Example: `  # One
  gotk export artifact generator flux-system

  # All of the namespace
  gotk export artifact generator --all -n gotk-system`,
	})))
	cmd.AddCommand(exportKindCmd(c, &all, alertKind, &cobra.Command{
		Use:     "alert [NAME]",
		Aliases: []string{"alerts"},
		Short:   "Export Alerts",
		Example: `  # All of the namespace
  gotk export alert --all`,
	}), exportKindCmd(c, &all, providerKind, &cobra.Command{
		Use:     "alert-provider [NAME]",
		Aliases: []string{"alert-providers"},
		Short:   "Export Providers",
		Example: `  # One
  gotk export alert-provider slack`,
	}))
	cmd.AddCommand(exportKindCmd(c, &all, helmReleaseKind, &cobra.Command{
		Use:     "helmrelease [NAME]",
		Aliases: []string{"hr", "helmreleases"},
		Short:   "Export HelmReleases",
		Example: `  # One
  gotk export helmrelease podinfo

  # All of the namespace
  gotk export hr --all`,
	}))
	return cmd
}

func exportKindCmd(c *cli, all *bool, k gotkKind, cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.MaximumNArgs(1)
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return c.completeNames(k)(cmd, args, toComplete)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *all == (len(args) == 1) {
			return fmt.Errorf("name the %s to export, or give --all (not both)", k.Kind())
		}
		cl, err := c.watchClient()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		ns := c.objectNamespace(cmd)
		if !*all {
			if err := validateName(k.Kind(), args[0]); err != nil {
				return err
			}
			u, err := getObject(ctx, cl, k, types.NamespacedName{Namespace: ns, Name: args[0]})
			if err != nil {
				return err
			}
			return printYAML(c.out, u)
		}
		items, err := listObjects(ctx, cl, k, ns)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			c.status.warn("no %s found %s", k.Plural, where(ns))
			return nil
		}
		sortObjects(items)
		objs := make([]*unstructured.Unstructured, len(items))
		for i := range items {
			objs[i] = &items[i]
		}
		return printYAML(c.out, objs...)
	}
	return cmd
}
