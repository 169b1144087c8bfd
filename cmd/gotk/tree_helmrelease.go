package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
)

func newTreeHelmReleaseCmd(c *cli, output *string) *cobra.Command {
	return &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Show the objects of a HelmRelease's release, recursing into the Kustomizations and HelmReleases among them",
		Long: `Show the objects of a HelmRelease's release as a tree: those of its
status.inventory when the helm controller recorded one, else those of the
manifest of the release in its storage namespace (the newest deployed version,
else the newest one), which you must then be allowed to read (Secrets of type
helm.sh/release.v1). A Kustomization or HelmRelease among them shows what it
applied below it, and so on.`,
		Example: `  # As a tree
  gotk tree helmrelease podinfo -n apps

  # As JSON, for scripts
  gotk tree hr podinfo -n apps -o json`,
		Args:              exactlyOneName(helmv2.HelmReleaseKind),
		ValidArgsFunction: c.completeNames(helmReleaseKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runTree(cmd, helmReleaseKind, args[0], *output, "no release yet: it has installed nothing")
		},
	}
}

// writeTree prints the tree, or its JSON with output "json".
func writeTree(c *cli, root *treeNode, output string) error {
	if output == "json" {
		data, err := json.MarshalIndent(root, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.out, "%s\n", data)
		return err
	}
	printTree(c.out, root)
	return nil
}

// helmReleaseNodes lists the objects of a HelmRelease's release: its
// status.inventory, else the manifest of the release in storage. Below the
// top of the tree, a release that cannot be read is a warning and a leaf.
func (w *treeWalker) helmReleaseNodes(ctx context.Context, u *unstructured.Unstructured, depth int) ([]*treeNode, error) {
	if entries, ok, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries"); ok && len(entries) > 0 {
		return inventoryNodes(u)
	}
	nodes, err := w.releaseNodes(ctx, u)
	if err != nil && depth > 0 {
		w.c.status.warn("%s", err)
		return nil, nil
	}
	return nodes, err
}

// releaseNodes lists the objects of the manifest of the HelmRelease's
// current release in storage.
func (w *treeWalker) releaseNodes(ctx context.Context, u *unstructured.Unstructured) ([]*treeNode, error) {
	hr := &helmv2.HelmRelease{}
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, hr); err != nil {
		return nil, fmt.Errorf("read HelmRelease %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	if w.renderer == nil {
		cfg, err := w.c.restConfig()
		if err != nil {
			return nil, err
		}
		w.renderer = helmrelease.NewRenderer(cfg, w.cl)
	}
	runner, err := w.renderer.Runner(ctx, hr)
	if err != nil {
		return nil, err
	}
	cur, err := runner.Current()
	if err != nil {
		return nil, fmt.Errorf("HelmRelease %s/%s: read release '%s' from storage namespace '%s': %w",
			hr.Namespace, hr.Name, hr.GetReleaseName(), hr.GetStorageNamespace(), err)
	}
	if cur == nil {
		return nil, nil
	}
	refs, err := helmrelease.ManifestRefs(cur, w.cl.RESTMapper())
	if err != nil {
		return nil, fmt.Errorf("HelmRelease %s/%s: release %s/%s.v%d: %w", hr.Namespace, hr.Name, cur.Namespace, cur.Name, cur.Version, err)
	}
	out := make([]*treeNode, 0, len(refs))
	for _, r := range refs {
		out = append(out, &treeNode{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name})
	}
	return out, nil
}
