package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/scheme"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// helmKeepPolicy is the annotation with which an object outlives its
// release: Helm's upgrade does not delete it when the chart drops it.
const (
	helmResourcePolicy = "helm.sh/resource-policy"
	helmKeepPolicy     = "keep"
)

func newDiffHelmReleaseCmd(c *cli) *cobra.Command {
	var f helmRenderFlags
	cmd := &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Show what the next upgrade of a HelmRelease would change",
		Long: `Render a HelmRelease as gotk build helmrelease does, then ask the API server
what applying each object of the result would change (server-side apply in
dry-run mode, as the field manager ` + release.ActionFieldManager + ` that the helm
controller's Helm actions use, with the labels and annotations Helm sets) and
print it:

  ► Kind/namespace/name created    an object that does not exist yet
  ► Kind/namespace/name drifted    an object that differs, with a unified diff
                                   from the live object to the upgraded one
  ► Kind/namespace/name deleted    an object of the current release that the
                                   chart no longer renders, which the upgrade
                                   deletes (unless it is annotated
                                   helm.sh/resource-policy: keep)

Unchanged objects print nothing. The values of Secrets are masked: a changed
value shows as "*** (before)" and "*** (after)". Hooks and tests, which Helm
runs around an action, and the CRDs of the chart's crds/ directory are left
out. The diff runs with your own credentials, not the HelmRelease's service
account. Nothing is written.

Exit code: 0 when nothing would change (and nothing is printed), 1 when
something would, 2 when the diff could not be computed.

` + helmRenderHelp,
		Example: `  # What would the next upgrade change?
  gotk diff helmrelease podinfo -n apps

  # What would new values change?
  gotk diff hr podinfo -n apps --values ./values.yaml`,
		Args:              exactlyOneName(helmv2.HelmReleaseKind),
		ValidArgsFunction: c.completeNames(helmReleaseKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
			changed, err := runDiffHelmRelease(cmd.Context(), c, key, f)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if changed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

// runDiffHelmRelease prints what the next upgrade of the HelmRelease key
// would change and reports whether anything would.
func runDiffHelmRelease(ctx context.Context, c *cli, key types.NamespacedName, f helmRenderFlags) (bool, error) {
	rr, err := renderHelmRelease(ctx, c, key, f)
	if err != nil {
		return false, err
	}
	hr := rr.hr
	cfg, err := rr.renderer.RESTConfig(ctx, hr)
	if err != nil {
		return false, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return false, fmt.Errorf("HelmRelease %s: connect to the cluster of its release: %w", key, err)
	}
	objs, err := manifestObjects(rr.release.Manifest, "the rendered manifest")
	if err != nil {
		return false, err
	}
	if err := asHelmApplies(objs, cl.RESTMapper(), rr.release.Name, rr.release.Namespace); err != nil {
		return false, err
	}
	m := ssa.New(cl, release.ActionFieldManager, map[string]string{release.ManagedByLabel: release.ManagedByHelm})
	diffs, changed, err := m.Diff(ctx, objs, ssa.ApplyOptions{})
	if err != nil {
		return false, fmt.Errorf("diff of HelmRelease %s: %w", key, err)
	}
	color := colorAllowed(c.out)
	printDiffs(c.out, color, diffs)
	stale, err := staleReleaseObjects(ctx, rr, cl, objs)
	if err != nil {
		return false, err
	}
	for _, ref := range stale {
		printDiffHeader(c.out, color, ref, "deleted")
	}
	return changed || len(stale) > 0, nil
}

// asHelmApplies changes the objects of a rendered manifest into what Helm
// applies: namespaced objects without a namespace in the release's, and
// the annotations that name the release (the managed-by label is the
// ssa.Manager's owner label).
func asHelmApplies(objs []*unstructured.Unstructured, mapper apimeta.RESTMapper, name, namespace string) error {
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case err == nil && mapping.Scope.Name() == apimeta.RESTScopeNameNamespace && o.GetNamespace() == "":
			o.SetNamespace(namespace)
		case err != nil && !apimeta.IsNoMatchError(err):
			return fmt.Errorf("%s: %w", ssa.RefOf(o), err)
		}
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		for k, v := range release.OwnershipAnnotations(name, namespace) {
			ann[k] = v
		}
		o.SetAnnotations(ann)
	}
	return nil
}

// staleReleaseObjects lists the objects of the release's current version
// that the rendered manifest no longer has and that Helm's upgrade would
// delete: those that still exist and are not annotated
// helm.sh/resource-policy: keep.
func staleReleaseObjects(ctx context.Context, rr *renderedRelease, cl client.Client, objs []*unstructured.Unstructured) ([]ssa.ObjectRef, error) {
	runner, err := rr.renderer.Runner(ctx, rr.hr)
	if err != nil {
		return nil, err
	}
	cur, err := runner.Current()
	if err != nil || cur == nil {
		return nil, err
	}
	refs, err := helmrelease.ManifestRefs(cur, cl.RESTMapper())
	if err != nil {
		return nil, fmt.Errorf("release %s/%s.v%d: %w", cur.Namespace, cur.Name, cur.Version, err)
	}
	rendered := map[string]bool{}
	for _, o := range objs {
		rendered[ssa.RefOf(o).ID()] = true
	}
	var out []ssa.ObjectRef
	for _, ref := range refs {
		if rendered[ref.ID()] {
			continue
		}
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(ref.GroupVersionKind())
		err := cl.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		switch {
		case apierrors.IsNotFound(err), apimeta.IsNoMatchError(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", ref, err)
		}
		if live.GetAnnotations()[helmResourcePolicy] == helmKeepPolicy {
			continue
		}
		out = append(out, ref)
	}
	return out, nil
}
