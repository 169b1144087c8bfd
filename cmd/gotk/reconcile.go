package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
)

func newReconcileCmd(c *cli) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Ask the controllers to reconcile an object now, and wait for the result",
		Long: `Ask the controller to reconcile an object now, rather than at its next
interval: reconcile sets the annotation ` + meta.ReconcileRequestAnnotation + ` to the
current time, waits until the object's status.lastHandledReconcileAt says the
request was handled, then prints the revision it fetched or applied, or the
failure, and exits non-zero on failure.`,
		Example: `  # Fetch the Git repository now
  gotk reconcile source git podinfo

  # Fetch the source of a Kustomization, then apply it
  gotk reconcile kustomization podinfo --with-source`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().DurationVar(&timeout, "timeout", defaultWaitTimeout, "How long to wait for the reconciliation.")
	source := &cobra.Command{
		Use:   "source",
		Short: "Reconcile sources",
		Example: `  # Fetch the Git repository now
  gotk reconcile source git podinfo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source.AddCommand(reconcileKindCmd(c, &timeout, gitRepositoryKind, nil, &cobra.Command{
		Use:   "git NAME",
		Short: "Fetch a GitRepository now",
		Example: `  # Fetch now and print the revision
  gotk reconcile source git podinfo -n gotk-system`,
	}), reconcileKindCmd(c, &timeout, helmRepositoryKind, nil, &cobra.Command{
		Use:   "helm NAME",
		Short: "Download the index of a HelmRepository now",
		Example: `  # Download the index now and print its revision
  gotk reconcile source helm podinfo -n gotk-system`,
	}), reconcileKindCmd(c, &timeout, ociRepositoryKind, nil, &cobra.Command{
		Use:   "oci NAME",
		Short: "Pull an OCIRepository now",
		Example: `  # Resolve the tag now and print the revision
  gotk reconcile source oci podinfo`,
	}), reconcileKindCmd(c, &timeout, bucketKind, nil, &cobra.Command{
		Use:   "bucket NAME",
		Short: "List and download a Bucket now",
		Example: `  # List the bucket now and print the revision
  gotk reconcile source bucket manifests`,
	}))
	var chartWithSource, withSource bool
	chart := reconcileKindCmd(c, &timeout, helmChartKind, &chartWithSource, &cobra.Command{
		Use:   "chart NAME",
		Short: "Pull a HelmChart now",
		Example: `  # Pull the chart now and print its version
  gotk reconcile source chart podinfo

  # Download the HelmRepository's index first
  gotk reconcile source chart podinfo --with-source`,
	})
	chart.Flags().BoolVar(&chartWithSource, "with-source", false, "Reconcile the HelmChart's source first.")
	source.AddCommand(chart)
	ks := reconcileKindCmd(c, &timeout, kustomizationKind, &withSource, &cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Apply a Kustomization now",
		Example: `  # Apply the last fetched revision now
  gotk reconcile kustomization podinfo

  # Fetch the source first
  gotk reconcile ks podinfo --with-source`,
	})
	ks.Flags().BoolVar(&withSource, "with-source", false, "Reconcile the Kustomization's source first.")
	cmd.AddCommand(source, ks, newReconcileHelmReleaseCmd(c, &timeout))
	source.AddCommand(&cobra.Command{
		Use:   "external NAME",
		Short: "Generate an ExternalArtifact now, through its producer",
		Long: `An ExternalArtifact has no reconcile of its own: this reconciles the
ArtifactGenerator its spec.sourceRef names, waits for it, then for the
ExternalArtifact to be Ready, and prints its revision.`,
		Example: `  # Generate now and print the revision
  gotk reconcile source external apps`,
		Args:              exactlyOneName(externalArtifactKind.Kind()),
		ValidArgsFunction: c.completeNames(externalArtifactKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			_, err = c.reconcileExternal(cmd.Context(), cl, types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}, timeout)
			return err
		},
	})
	cmd.AddCommand(artifactParent("Reconcile", reconcileKindCmd(c, &timeout, artifactGeneratorKind, nil, &cobra.Command{
		Use:   "generator NAME",
		Short: "Generate the artifacts of an ArtifactGenerator now",
		Example: `  # Generate now
  gotk reconcile artifact generator flux-system`,
	})))
	return cmd
}

// reconcileKindCmd completes cmd into the reconcile of one object of kind
// k; with *withSource, the source its spec.sourceRef names is reconciled
// first.
func reconcileKindCmd(c *cli, timeout *time.Duration, k gotkKind, withSource *bool, cmd *cobra.Command) *cobra.Command {
	cmd.Args = exactlyOneName(k.Kind())
	cmd.ValidArgsFunction = c.completeNames(k)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := c.watchClient()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
		if withSource != nil && *withSource {
			u, err := getObject(ctx, cl, k, key)
			if err != nil {
				return err
			}
			if err := checkNotSuspended(k, u); err != nil {
				return err
			}
			sk, skey, err := sourceOf(u)
			if err != nil {
				return err
			}
			if sk.Kind() == externalArtifactKind.Kind() {
				// Reconciled through its producer.
				if _, err := c.reconcileExternal(ctx, cl, skey, *timeout); err != nil {
					return err
				}
			} else if _, err := c.reconcileAndWait(ctx, cl, sk, skey, *timeout); err != nil {
				return err
			}
		}
		_, err = c.reconcileAndWait(ctx, cl, k, key, *timeout)
		return err
	}
	return cmd
}

// sourceOf reads the spec.sourceRef of a Kustomization or a HelmChart.
func sourceOf(ks *unstructured.Unstructured) (gotkKind, types.NamespacedName, error) {
	kind, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = ks.GetNamespace()
	}
	k, ok := lookupKind(kind)
	if !ok || !k.Source {
		return gotkKind{}, types.NamespacedName{}, fmt.Errorf("%s %s/%s: spec.sourceRef.kind %q is not a source kind", ks.GetKind(), ks.GetNamespace(), ks.GetName(), kind)
	}
	return k, types.NamespacedName{Namespace: ns, Name: name}, nil
}

// checkNotSuspended refuses to wait for an object that will not be
// reconciled.
func checkNotSuspended(k gotkKind, u *unstructured.Unstructured) error {
	if !isSuspended(u) {
		return nil
	}
	return fmt.Errorf("%s %s/%s is suspended, run gotk resume first: gotk resume %s %s -n %s",
		k.Kind(), u.GetNamespace(), u.GetName(), k.Command, u.GetName(), u.GetNamespace())
}

// reconcileAndWait requests a reconcile of one object, waits for the
// result and prints the revision.
func (c *cli) reconcileAndWait(ctx context.Context, cl client.Client, k gotkKind, key types.NamespacedName, timeout time.Duration) (*unstructured.Unstructured, error) {
	u, err := getObject(ctx, cl, k, key)
	if err != nil {
		return nil, err
	}
	if err := checkNotSuspended(k, u); err != nil {
		return nil, err
	}
	c.status.step("annotating %s %s for reconciliation", k.Kind(), key)
	token, err := requestReconcile(ctx, cl, k, key, false)
	if err != nil {
		return nil, err
	}
	u, err = c.waitFor(ctx, cl, k, key, waitOptions{token: token, timeout: timeout})
	if err != nil {
		return u, err
	}
	c.printRevision(k, u)
	return u, nil
}

// printRevision says what a Ready object fetched or applied.
func (c *cli) printRevision(k gotkKind, u *unstructured.Unstructured) {
	rev := k.Revision(u)
	switch {
	case rev == "":
	case k.Source:
		c.status.ok("fetched revision %s", rev)
	default:
		c.status.ok("applied revision %s", rev)
	}
}
