package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
)

var helmReleaseKind = mustKind(helmv2.HelmReleaseKind)

// newReconcileHelmReleaseCmd is `gotk reconcile helmrelease`: --with-source
// pulls the chart (and the repository index) first, --force asks for a
// one-off upgrade (forceAt), --reset for new retries (resetAt).
func newReconcileHelmReleaseCmd(c *cli, timeout *time.Duration) *cobra.Command {
	var withSource, force, reset bool
	cmd := &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Reconcile a HelmRelease now",
		Long: `Reconcile a HelmRelease now and wait for the result.

--with-source reconciles the HelmChart first, and the HelmChart's source before
it (or the OCIRepository of spec.chartRef), so that a new chart version is seen. --force upgrades the release even when
it is in sync (the ` + meta.ForceRequestAnnotation + ` annotation). --reset clears
the failure counters, so that a HelmRelease Stalled after exhausting its retries
tries again (the ` + meta.ResetRequestAnnotation + ` annotation).`,
		Example: `  # Reconcile now
  gotk reconcile helmrelease podinfo

  # Fetch the repository index and the chart first
  gotk reconcile hr podinfo --with-source

  # Try again after "Failed to upgrade after 3 attempt(s)"
  gotk reconcile hr podinfo --reset`,
		Args:              exactlyOneName(helmv2.HelmReleaseKind),
		ValidArgsFunction: c.completeNames(helmReleaseKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
			u, err := getObject(ctx, cl, helmReleaseKind, key)
			if err != nil {
				return err
			}
			if err := checkNotSuspended(helmReleaseKind, u); err != nil {
				return err
			}
			if withSource {
				if err := c.reconcileChartSources(ctx, cl, u, *timeout); err != nil {
					return err
				}
			}
			c.status.step("annotating HelmRelease %s for reconciliation", key)
			token := time.Now().Format(time.RFC3339Nano)
			annotations := map[string]any{meta.ReconcileRequestAnnotation: token}
			if force {
				annotations[meta.ForceRequestAnnotation] = token
			}
			if reset {
				annotations[meta.ResetRequestAnnotation] = token
			}
			if err := mergePatch(ctx, cl, helmReleaseKind, key, map[string]any{"metadata": map[string]any{"annotations": annotations}}); err != nil {
				return err
			}
			u, err = c.waitFor(ctx, cl, helmReleaseKind, key, waitOptions{token: token, timeout: *timeout})
			if err != nil {
				return err
			}
			c.printRevision(helmReleaseKind, u)
			return nil
		},
	}
	cmd.Flags().BoolVar(&withSource, "with-source", false, "Reconcile the HelmChart and its source first.")
	cmd.Flags().BoolVar(&force, "force", false, "Upgrade the release even when it is in sync.")
	cmd.Flags().BoolVar(&reset, "reset", false, "Reset the failure counters, so that exhausted retries start again.")
	return cmd
}

// reconcileChartSources reconciles what a HelmRelease reads its chart
// from (chartSourceOf), the source of a HelmChart first. An
// ExternalArtifact has no reconcile of its own: its ArtifactGenerator
// writes it when its sources change.
func (c *cli) reconcileChartSources(ctx context.Context, cl client.Client, hr *unstructured.Unstructured, timeout time.Duration) error {
	kind, key, err := chartSourceOf(hr)
	if err != nil {
		return err
	}
	if kind.Kind() == externalArtifactKind.Kind() {
		c.status.step("%s %s is written by its ArtifactGenerator: nothing to reconcile first", kind.Kind(), key)
		return nil
	}
	if kind.Kind() == helmChartKind.Kind() {
		hc, err := getObject(ctx, cl, helmChartKind, key)
		if err != nil {
			return err
		}
		if sk, skey, err := sourceOf(hc); err == nil {
			if _, err := c.reconcileAndWait(ctx, cl, sk, skey, timeout); err != nil {
				return err
			}
		}
	}
	_, err = c.reconcileAndWait(ctx, cl, kind, key, timeout)
	return err
}

// chartSourceOf names the object a HelmRelease reads its chart from: the
// HelmChart that spec.chart makes ("<namespace>-<name>" in the source's
// namespace), or the object of spec.chartRef.
func chartSourceOf(hr *unstructured.Unstructured) (gotkKind, types.NamespacedName, error) {
	name, ok, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "name")
	if !ok {
		ns, _, _ := unstructured.NestedString(hr.Object, "spec", "chart", "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = hr.GetNamespace()
		}
		return helmChartKind, types.NamespacedName{Namespace: ns, Name: hr.GetNamespace() + "-" + hr.GetName()}, nil
	}
	refKind, _, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "kind")
	ns, _, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "namespace")
	if ns == "" {
		ns = hr.GetNamespace()
	}
	k, found := lookupKind(refKind)
	if !found || !k.Source {
		return gotkKind{}, types.NamespacedName{}, fmt.Errorf("HelmRelease %s/%s: spec.chartRef.kind %q is not a source kind", hr.GetNamespace(), hr.GetName(), refKind)
	}
	return k, types.NamespacedName{Namespace: ns, Name: name}, nil
}
