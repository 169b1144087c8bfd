package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourceextv1beta1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
)

// toggleFlags are the flags of suspend and resume.
type toggleFlags struct {
	all     bool
	wait    bool
	timeout time.Duration
}

func newSuspendCmd(c *cli) *cobra.Command {
	f := &toggleFlags{}
	cmd := &cobra.Command{
		Use:   "suspend",
		Short: "Stop reconciling objects until they are resumed",
		Long: `Set spec.suspend to true: the controller leaves the object (and what it
applied) as it is until gotk resume.`,
		Example: `  # Stop applying a Kustomization while you debug the cluster by hand
  gotk suspend kustomization podinfo

  # Stop fetching every GitRepository of the namespace
  gotk suspend source git --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().BoolVar(&f.all, "all", false, "Every object of the kind in the namespace.")
	addToggleKinds(c, cmd, f, false)
	return cmd
}

func newResumeCmd(c *cli) *cobra.Command {
	f := &toggleFlags{}
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Reconcile suspended objects again, and wait for the result",
		Long: `Set spec.suspend to false and request a reconcile (the annotation
reconcile.fluxcd.io/requestedAt), then wait until each object has handled
the request and print what it fetched or applied; exit non-zero when one
fails. --wait=false returns right after the change.`,
		Example: `  # Resume a Kustomization and wait until it has applied
  gotk resume kustomization podinfo

  # Resume every GitRepository of the namespace
  gotk resume source git --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&f.all, "all", false, "Every object of the kind in the namespace.")
	pf.BoolVar(&f.wait, "wait", true, "Wait for each object to be reconciled.")
	pf.DurationVar(&f.timeout, "timeout", defaultWaitTimeout, "How long to wait for each object.")
	addToggleKinds(c, cmd, f, true)
	return cmd
}

// addToggleKinds adds "source git", "source helm", "source chart" and
// "kustomization" under suspend or resume.
func addToggleKinds(c *cli, parent *cobra.Command, f *toggleFlags, resume bool) {
	verb := "suspend"
	if resume {
		verb = "resume"
	}
	source := &cobra.Command{
		Use:     "source",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " sources",
		Example: "  gotk " + verb + " source git podinfo",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source.AddCommand(toggleKindCmd(c, f, gitRepositoryKind, resume, &cobra.Command{
		Use:   "git [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " GitRepositories",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s source git podinfo

  # Several
  gotk %[1]s source git podinfo flux-docs

  # All of the namespace
  gotk %[1]s source git --all -n apps`, verb),
	}), toggleKindCmd(c, f, helmRepositoryKind, resume, &cobra.Command{
		Use:   "helm [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " HelmRepositories",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s source helm podinfo

  # All of the namespace
  gotk %[1]s source helm --all -n apps`, verb),
	}), toggleKindCmd(c, f, helmChartKind, resume, &cobra.Command{
		Use:   "chart [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " HelmCharts",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s source chart podinfo

  # All of the namespace
  gotk %[1]s source chart --all -n apps`, verb),
	}), toggleKindCmd(c, f, ociRepositoryKind, resume, &cobra.Command{
		Use:     "oci [NAME...]",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " OCIRepositories",
		Example: fmt.Sprintf("  gotk %s source oci podinfo", verb),
	}), toggleKindCmd(c, f, bucketKind, resume, &cobra.Command{
		Use:     "bucket [NAME...]",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " Buckets",
		Example: fmt.Sprintf("  gotk %s source bucket manifests", verb),
	}))
	parent.AddCommand(artifactParent(strings.ToUpper(verb[:1])+verb[1:], toggleKindCmd(c, f, artifactGeneratorKind, resume, &cobra.Command{
		Use:   "generator [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " ArtifactGenerators",
		Long: `ArtifactGenerators have no spec.suspend: as in Flux, the annotation
source.extensions.fluxcd.io/reconcile: Disable suspends one, and Enable resumes it.`,
		Example: fmt.Sprintf(`  # One
  gotk %[1]s artifact generator flux-system

  # All of the namespace
  gotk %[1]s artifact generator --all -n apps`, verb),
	})))
	parent.AddCommand(source, toggleKindCmd(c, f, kustomizationKind, resume, &cobra.Command{
		Use:     "kustomization [NAME...]",
		Aliases: []string{"ks"},
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " Kustomizations",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s kustomization podinfo

  # All of the namespace
  gotk %[1]s ks --all -n apps`, verb),
	}), newToggleReceiverCmd(c, f, resume))
	parent.AddCommand(toggleKindCmd(c, f, alertKind, resume, &cobra.Command{
		Use:   "alert [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " Alerts",
		Example: fmt.Sprintf(`  # Stop or start sending the events of an Alert
  gotk %[1]s alert ops`, verb),
	}), toggleKindCmd(c, f, providerKind, resume, &cobra.Command{
		Use:   "alert-provider [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " Providers",
		Example: fmt.Sprintf(`  # Stop or start every delivery to a Provider
  gotk %[1]s alert-provider slack`, verb),
	}))
	parent.AddCommand(toggleKindCmd(c, f, helmReleaseKind, resume, &cobra.Command{
		Use:     "helmrelease [NAME...]",
		Aliases: []string{"hr"},
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " HelmReleases",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s helmrelease podinfo

  # All of the namespace
  gotk %[1]s hr --all -n apps`, verb),
	}))
}

func toggleKindCmd(c *cli, f *toggleFlags, k gotkKind, resume bool, cmd *cobra.Command) *cobra.Command {
	cmd.ValidArgsFunction = c.completeNames(k)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if f.all == (len(args) > 0) {
			return fmt.Errorf("name the %s objects to change, or give --all (not both)", k.Kind())
		}
		for _, a := range args {
			if err := validateName(k.Kind(), a); err != nil {
				return err
			}
		}
		cl, err := c.watchClient()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		ns := c.objectNamespace(cmd)
		names := args
		if f.all {
			items, err := listObjects(ctx, cl, k, ns)
			if err != nil {
				return err
			}
			for _, it := range items {
				names = append(names, it.GetName())
			}
			if len(names) == 0 {
				c.status.warn("no %s found %s", k.Plural, where(ns))
				return nil
			}
		}
		if resume {
			return c.resumeAll(ctx, cl, k, ns, names, f)
		}
		for _, n := range names {
			key := types.NamespacedName{Namespace: ns, Name: n}
			patch := map[string]any{"spec": map[string]any{"suspend": true}}
			if k.Kind() == artifactGeneratorKind.Kind() {
				patch = map[string]any{"metadata": map[string]any{"annotations": map[string]any{sourceextv1beta1.ReconcileAnnotation: sourceextv1beta1.ReconcileDisabled}}}
			}
			if err := mergePatch(ctx, cl, k, key, patch); err != nil {
				return err
			}
			c.status.ok("%s %s suspended", k.Kind(), key)
		}
		return nil
	}
	return cmd
}

// resumeAll resumes every named object, then waits for each; it goes on
// after a failure and reports them all at the end.
func (c *cli) resumeAll(ctx context.Context, cl client.Client, k gotkKind, ns string, names []string, f *toggleFlags) error {
	tokens := map[string]string{}
	for _, n := range names {
		key := types.NamespacedName{Namespace: ns, Name: n}
		token, err := requestReconcile(ctx, cl, k, key, true)
		if err != nil {
			return err
		}
		tokens[n] = token
		c.status.ok("%s %s resumed", k.Kind(), key)
	}
	if !f.wait {
		return nil
	}
	var failures []string
	for _, n := range names {
		key := types.NamespacedName{Namespace: ns, Name: n}
		u, err := c.waitFor(ctx, cl, k, key, waitOptions{token: tokens[n], timeout: f.timeout})
		if err != nil {
			c.status.fail("%s", err)
			failures = append(failures, key.String())
			continue
		}
		c.printRevision(k, u)
	}
	if len(failures) > 0 {
		return errors.New("these " + k.Plural + " are not Ready: " + strings.Join(failures, ", "))
	}
	return nil
}
