package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
)

// maxTreeDepth bounds the recursion into nested Kustomizations.
const maxTreeDepth = 20

func newTreeCmd(c *cli) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "tree",
		Short: "Show what a Kustomization or HelmRelease applied, or what an ArtifactGenerator made, as a tree",
		Example: `  # The objects a Kustomization applied, and what its Kustomizations applied
  gotk tree kustomization apps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "", "Output format: json (default: a tree).")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(&cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Show the inventory of a Kustomization, recursing into the Kustomizations and HelmReleases it applied",
		Long: `Show the objects a Kustomization applied (its status.inventory) as a tree. A
Kustomization among them shows its own inventory below it, and a HelmRelease
the objects of its release (see gotk tree helmrelease --help), and so on.`,
		Example: `  # As a tree
  gotk tree kustomization apps -n gotk-system

  # As JSON, for scripts
  gotk tree ks apps -o json`,
		Args:              exactlyOneName("Kustomization"),
		ValidArgsFunction: c.completeNames(kustomizationKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runTree(cmd, kustomizationKind, args[0], output, "no inventory yet: it has applied nothing")
		},
	})
	cmd.AddCommand(newTreeHelmReleaseCmd(c, &output))
	cmd.AddCommand(artifactParent("Show", &cobra.Command{
		Use:   "generator NAME",
		Short: "Show the ExternalArtifacts of an ArtifactGenerator, and the Kustomizations that apply them",
		Long: `Show the ExternalArtifacts an ArtifactGenerator made (its status.inventory) as a
tree, each with the Kustomizations whose spec.sourceRef names it.`,
		Example: `  # The artifacts of flux-system and who applies them
  gotk tree artifact generator flux-system -n gotk-system`,
		Args:              exactlyOneName(artifactGeneratorKind.Kind()),
		ValidArgsFunction: c.completeNames(artifactGeneratorKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, g, err := c.treeRoot(cmd, artifactGeneratorKind, args[0], output)
			if err != nil {
				return err
			}
			ctx, key := cmd.Context(), client.ObjectKeyFromObject(g)
			root, err := generatorTree(ctx, cl, g)
			if err != nil {
				return err
			}
			if len(root.Resources) == 0 {
				c.status.warn("ArtifactGenerator %s has no inventory yet: it has generated nothing (see gotk get artifact generator -n %s)", key, key.Namespace)
			}
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
		},
	}))
	return cmd
}

// generatorTree lists the ExternalArtifacts of a generator's inventory,
// each with the Kustomizations that build it.
func generatorTree(ctx context.Context, cl client.Client, g *unstructured.Unstructured) (*treeNode, error) {
	gvk := artifactGeneratorKind.GVK
	root := &treeNode{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: g.GetNamespace(), Name: g.GetName()}
	inv, _, _ := unstructured.NestedSlice(g.Object, "status", "inventory")
	if len(inv) == 0 {
		return root, nil
	}
	// Consumers may be in any namespace; without the right to list them
	// all, those of the generator's namespace are shown.
	kss, err := listObjects(ctx, cl, kustomizationKind, "")
	if err != nil {
		if kss, err = listObjects(ctx, cl, kustomizationKind, g.GetNamespace()); err != nil {
			return nil, err
		}
	}
	eaGVK := externalArtifactKind.GVK
	for _, raw := range inv {
		m, _ := raw.(map[string]any)
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		node := &treeNode{Group: eaGVK.Group, Version: eaGVK.Version, Kind: eaGVK.Kind, Namespace: ns, Name: name}
		for i := range kss {
			k := &kss[i]
			sk, skey, err := sourceOf(k)
			if err != nil || sk.Kind() != eaGVK.Kind || skey.Namespace != ns || skey.Name != name {
				continue
			}
			kgvk := kustomizationKind.GVK
			node.Resources = append(node.Resources, &treeNode{Group: kgvk.Group, Version: kgvk.Version, Kind: kgvk.Kind, Namespace: k.GetNamespace(), Name: k.GetName()})
		}
		root.Resources = append(root.Resources, node)
	}
	return root, nil
}

// treeNode is one object of the tree.
type treeNode struct {
	Group     string      `json:"group,omitempty"`
	Version   string      `json:"version,omitempty"`
	Kind      string      `json:"kind"`
	Namespace string      `json:"namespace,omitempty"`
	Name      string      `json:"name"`
	Resources []*treeNode `json:"resources,omitempty"`
}

func (n *treeNode) String() string {
	if n.Namespace == "" {
		return n.Kind + "/" + n.Name
	}
	return n.Kind + "/" + n.Namespace + "/" + n.Name
}

// treeWalker reads what Kustomizations and HelmReleases applied, down
// the Kustomizations and HelmReleases among them.
type treeWalker struct {
	c  *cli
	cl client.Client
	// seen holds the objects expanded, which stops cycles.
	seen     map[string]bool
	renderer *helmrelease.Renderer
}

func newTreeWalker(c *cli, cl client.Client) *treeWalker {
	return &treeWalker{c: c, cl: cl, seen: map[string]bool{}}
}

// buildTree returns the tree of a Kustomization or a HelmRelease: the
// objects it applied and, for each Kustomization or HelmRelease among
// them, what that one applied.
func (w *treeWalker) buildTree(ctx context.Context, obj *unstructured.Unstructured, depth int) (*treeNode, error) {
	gvk := obj.GroupVersionKind()
	root := &treeNode{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	w.seen[root.String()] = true
	var children []*treeNode
	var err error
	switch gvk.Kind {
	case kustomizationKind.Kind():
		children, err = inventoryNodes(obj)
	case helmReleaseKind.Kind():
		children, err = w.helmReleaseNodes(ctx, obj, depth)
	}
	if err != nil {
		return nil, err
	}
	for _, node := range children {
		root.Resources = append(root.Resources, node)
		k, ok := expandable(node)
		if !ok || w.seen[node.String()] || depth >= maxTreeDepth {
			continue
		}
		child := newObject(k)
		if err := w.cl.Get(ctx, types.NamespacedName{Namespace: node.Namespace, Name: node.Name}, child); err != nil {
			if apierrors.IsNotFound(err) {
				continue // deleted since: a leaf
			}
			return nil, fmt.Errorf("read %s %s/%s: %w", k.Kind(), node.Namespace, node.Name, err)
		}
		sub, err := w.buildTree(ctx, child, depth+1)
		if err != nil {
			return nil, err
		}
		node.Resources = sub.Resources
	}
	return root, nil
}

// expandable returns the kind of a node that applied objects of its own:
// a Kustomization or a HelmRelease.
func expandable(n *treeNode) (gotkKind, bool) {
	for _, k := range []gotkKind{kustomizationKind, helmReleaseKind} {
		if n.Group == k.GVK.Group && n.Kind == k.Kind() {
			return k, true
		}
	}
	return gotkKind{}, false
}

// inventoryNodes lists the entries of status.inventory of a Kustomization
// or HelmRelease.
func inventoryNodes(obj *unstructured.Unstructured) ([]*treeNode, error) {
	entries, _, _ := unstructured.NestedSlice(obj.Object, "status", "inventory", "entries")
	out := make([]*treeNode, 0, len(entries))
	for _, raw := range entries {
		m, _ := raw.(map[string]any)
		id, _ := m["id"].(string)
		version, _ := m["v"].(string)
		ns, name, group, kind, ok := meta.ParseResourceID(id)
		if !ok {
			return nil, fmt.Errorf("%s %s/%s: inventory entry %q is not <namespace>_<name>_<group>_<kind>", obj.GetKind(), obj.GetNamespace(), obj.GetName(), id)
		}
		out = append(out, &treeNode{Group: group, Version: version, Kind: kind, Namespace: ns, Name: name})
	}
	return out, nil
}

// printTree draws the tree with box-drawing branches.
func printTree(w io.Writer, root *treeNode) {
	fmt.Fprintln(w, root.String())
	var walk func(n *treeNode, prefix string)
	walk = func(n *treeNode, prefix string) {
		for i, child := range n.Resources {
			branch, next := "├── ", "│   "
			if i == len(n.Resources)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Fprintln(w, prefix+branch+child.String())
			walk(child, prefix+next)
		}
	}
	walk(root, "")
}

// treeRoot checks a tree command's --output and reads the object of kind
// k named name, the root of its tree.
func (c *cli) treeRoot(cmd *cobra.Command, k gotkKind, name, output string) (client.WithWatch, *unstructured.Unstructured, error) {
	if output != "" && output != "json" {
		return nil, nil, fmt.Errorf("unknown --output %q: use json, or leave it out for a tree", output)
	}
	cl, err := c.watchClient()
	if err != nil {
		return nil, nil, err
	}
	key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: name}
	obj, err := getObject(cmd.Context(), cl, k, key)
	if err != nil {
		return nil, nil, err
	}
	return cl, obj, nil
}

// runTree prints the tree of what the Kustomization or HelmRelease name
// applied, or its JSON with output "json"; without anything applied, it
// warns that the object has nothing yet.
func (c *cli) runTree(cmd *cobra.Command, k gotkKind, name, output, nothing string) error {
	cl, obj, err := c.treeRoot(cmd, k, name, output)
	if err != nil {
		return err
	}
	ctx, key := cmd.Context(), client.ObjectKeyFromObject(obj)
	root, err := newTreeWalker(c, cl).buildTree(ctx, obj, 0)
	if err != nil {
		return err
	}
	if len(root.Resources) == 0 {
		c.status.warn("%s %s has %s (see gotk get %s -n %s)", k.Kind(), key, nothing, k.Plural, key.Namespace)
	}
	return writeTree(c, root, output)
}
