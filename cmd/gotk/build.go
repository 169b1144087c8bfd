package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/kustomize"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// maskedValue stands for every value of a Secret that build prints.
const maskedValue = "***"

func newBuildCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build what a gotk object would apply, without applying it",
		Example: `  # Print the manifests the Kustomization podinfo applies
  gotk build kustomization podinfo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var localPath string
	ks := &cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Print the manifests a Kustomization would apply",
		Long: `Build a Kustomization as the kustomize controller does, and print the result as
a multi-document YAML stream: kustomize build of spec.path with the spec's
changes (targetNamespace, patches, images...), post-build substitution with the
variables of spec.postBuild (read from the cluster), and the owner labels
kustomize.toolkit.fluxcd.io/name and /namespace. Remote bases are refused.

The Kustomization is read from the cluster. Without --path, the manifests come
from the artifact of its source (status.artifact), downloaded from the source
controller: its URL must be reachable from where gotk runs. With --path, they
come from a local directory instead, which stands for the Kustomization's
spec.path (spec.path is ignored); nothing outside that directory is read.

The values of Secrets are printed as "***": the output never holds a secret.
Nothing is written to the cluster.`,
		Example: `  # Build from the source's last fetched revision
  gotk build kustomization podinfo

  # Build from a local checkout, to see what a change would apply
  gotk build kustomization podinfo --path ./kustomize`,
		Args:              exactlyOneName("Kustomization"),
		ValidArgsFunction: c.completeNames(kustomizationKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
			_, objs, err := buildKustomization(cmd.Context(), cl, key, localPath)
			if err != nil {
				return err
			}
			return printManifests(c.out, objs)
		},
	}
	ks.Flags().StringVar(&localPath, "path", "", "Local directory to build instead of the source's artifact; it stands for spec.path.")
	_ = ks.MarkFlagDirname("path")
	cmd.AddCommand(ks)
	return cmd
}

// buildKustomization reads the Kustomization key and builds it as the
// controller does: from localPath when not empty, else from its source's
// artifact. The objects carry the owner labels.
func buildKustomization(ctx context.Context, cl client.Client, key types.NamespacedName, localPath string) (*kustomizev1.Kustomization, []*unstructured.Unstructured, error) {
	u, err := getObject(ctx, cl, kustomizationKind, key)
	if err != nil {
		return nil, nil, err
	}
	ks := &kustomizev1.Kustomization{}
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ks); err != nil {
		return nil, nil, fmt.Errorf("read Kustomization %s: %w", key, err)
	}
	spec := ks.Spec.DeepCopy()
	var root string
	if localPath != "" {
		abs, err := filepath.Abs(localPath)
		if err != nil {
			return nil, nil, fmt.Errorf("--path %s: %w", localPath, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, nil, fmt.Errorf("--path %s: %w", localPath, err)
		}
		if !fi.IsDir() {
			return nil, nil, fmt.Errorf("--path %s is not a directory", localPath)
		}
		root, spec.Path = abs, "./"
	} else {
		dir, err := os.MkdirTemp("", "gotk-build-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		if err := fetchSourceArtifact(ctx, cl, u, dir); err != nil {
			return nil, nil, err
		}
		root = dir
	}
	var vars map[string]string
	if pb := spec.PostBuild; pb != nil {
		vars, err = kustomize.LoadVariables(ctx, kustomize.ClientVarSource{Reader: cl}, ks.Namespace, pb)
		if err != nil {
			return nil, nil, fmt.Errorf("Kustomization %s: post-build substitution: %w", key, err)
		}
	}
	objs, err := kustomize.Build(ctx, root, spec, kustomize.BuildOptions{NoRemoteBases: true})
	if err != nil {
		return nil, nil, fmt.Errorf("build of Kustomization %s failed: %w", key, err)
	}
	if pb := spec.PostBuild; pb != nil {
		if err := kustomize.Substitute(objs, pb, vars); err != nil {
			return nil, nil, fmt.Errorf("Kustomization %s: post-build substitution: %w", key, err)
		}
	}
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range ssa.KustomizationOwner(ks.Name, ks.Namespace) {
			labels[k] = v
		}
		o.SetLabels(labels)
	}
	return ks, objs, nil
}

// fetchSourceArtifact downloads and unpacks the artifact of ks's source
// into dir, checking its digest.
func fetchSourceArtifact(ctx context.Context, cl client.Client, ks *unstructured.Unstructured, dir string) error {
	sk, skey, err := sourceOf(ks)
	if err != nil {
		return err
	}
	src, err := getObject(ctx, cl, sk, skey)
	if err != nil {
		return fmt.Errorf("Kustomization %s/%s: source: %w", ks.GetNamespace(), ks.GetName(), err)
	}
	raw, ok, _ := unstructured.NestedMap(src.Object, "status", "artifact")
	if !ok {
		return fmt.Errorf("%s %s has no artifact yet (status.artifact): wait for it to be Ready, or build a local directory with --path", sk.Kind(), skey)
	}
	var art meta.Artifact
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(raw, &art); err != nil {
		return fmt.Errorf("%s %s: status.artifact: %w", sk.Kind(), skey, err)
	}
	if art.URL == "" {
		return fmt.Errorf("%s %s: status.artifact has no url", sk.Kind(), skey)
	}
	f := &artifact.Fetcher{Retries: 2}
	if err := f.Fetch(ctx, art, dir); err != nil {
		return fmt.Errorf("download the artifact of %s %s (revision %s) from %s: %w; if the source controller is not reachable from here, build a local directory with --path",
			sk.Kind(), skey, art.Revision, art.URL, err)
	}
	return nil
}

// printManifests writes objs as a YAML stream, each document led by "---",
// with the values of Secrets masked.
func printManifests(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		data, err := yaml.Marshal(maskSecretData(o).Object)
		if err != nil {
			return fmt.Errorf("encode %s as YAML: %w", ssa.RefOf(o), err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// maskSecretData returns o, or for a Secret a copy whose data and
// stringData values are "***".
func maskSecretData(o *unstructured.Unstructured) *unstructured.Unstructured {
	gvk := o.GroupVersionKind()
	if gvk.Group != "" || gvk.Kind != "Secret" {
		return o
	}
	c := o.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok, _ := unstructured.NestedMap(c.Object, field)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = maskedValue
		}
		_ = unstructured.SetNestedMap(c.Object, m, field)
	}
	if ann := c.GetAnnotations(); ann["kubectl.kubernetes.io/last-applied-configuration"] != "" {
		ann["kubectl.kubernetes.io/last-applied-configuration"] = maskedValue
		c.SetAnnotations(ann)
	}
	return c
}
