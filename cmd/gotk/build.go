package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/decrypt"
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
	var keyFiles []string
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
spec.path (spec.path is ignored). Files outside it may be read as the
artifact's would, such as the base ("../base") of an overlay, but nothing
outside the Git work tree that holds it (outside a work tree, the current
directory, or the directory itself when the current directory does not hold
it).

When the Kustomization sets spec.decryption, the SOPS-encrypted files that the
build reads are decrypted in memory as the controller does: with the keys of
--decryption-key (an age key file as age-keygen writes it, or an armored
OpenPGP private key; repeat the flag for several), or else with those of the
Secret of spec.decryption.secretRef, which you must then be allowed to read.

The values of Secrets are printed as "***": the output never holds a secret.
Nothing is written to the cluster.`,
		Example: `  # Build from the source's last fetched revision
  gotk build kustomization podinfo

  # Build from a local checkout, to see what a change would apply
  gotk build kustomization podinfo --path ./kustomize

  # Decrypt its SOPS-encrypted Secrets with a local age key
  gotk build kustomization podinfo --decryption-key ~/.config/sops/age/keys.txt`,
		Args:              exactlyOneName("Kustomization"),
		ValidArgsFunction: c.completeNames(kustomizationKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: c.objectNamespace(cmd), Name: args[0]}
			_, objs, err := buildKustomization(cmd.Context(), cl, key, localPath, keyFiles)
			if err != nil {
				return err
			}
			return printManifests(c.out, objs)
		},
	}
	ks.Flags().StringVar(&localPath, "path", "", "Local directory to build instead of the source's artifact; it stands for spec.path.")
	_ = ks.MarkFlagDirname("path")
	addDecryptionKeyFlag(ks, &keyFiles)
	cmd.AddCommand(ks, newBuildHelmReleaseCmd(c), newBuildArtifactCmd(c))
	return cmd
}

// addDecryptionKeyFlag adds --decryption-key to a command that builds a
// Kustomization.
func addDecryptionKeyFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "decryption-key", nil,
		"Private key file (age or armored OpenPGP) that decrypts the SOPS-encrypted files of a Kustomization with spec.decryption, instead of the keys of its Secret; may be repeated.")
	_ = cmd.MarkFlagFilename("decryption-key")
}

// decryptionKeys returns the keys that decrypt the files of ks: those of
// keyFiles when given, else those of its decryption Secret; nil when ks
// decrypts nothing.
func decryptionKeys(ctx context.Context, cl client.Client, ks *kustomizev1.Kustomization, keyFiles []string) (*decrypt.Keys, error) {
	d := ks.Spec.Decryption
	if d == nil {
		if len(keyFiles) > 0 {
			return nil, fmt.Errorf("--decryption-key: Kustomization %s/%s has no spec.decryption, so the controller would not decrypt its files", ks.Namespace, ks.Name)
		}
		return nil, nil
	}
	if len(keyFiles) > 0 {
		return decrypt.FromFiles(keyFiles)
	}
	if d.SecretRef == nil {
		if d.ServiceAccountName != "" {
			return nil, fmt.Errorf("Kustomization %s/%s: spec.decryption.serviceAccountName: decrypting with a cloud identity is not supported; pass a key with --decryption-key", ks.Namespace, ks.Name)
		}
		return decrypt.None("spec.decryption (no secretRef)"), nil
	}
	secret := &corev1.Secret{}
	err := cl.Get(ctx, client.ObjectKey{Namespace: ks.Namespace, Name: d.SecretRef.Name}, secret)
	switch {
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("Kustomization %s/%s decrypts with the keys of Secret '%s/%s', which you may not read: pass your own key with --decryption-key FILE",
			ks.Namespace, ks.Name, ks.Namespace, d.SecretRef.Name)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("Kustomization %s/%s: spec.decryption.secretRef: Secret '%s/%s' not found: create it, or pass a key with --decryption-key FILE",
			ks.Namespace, ks.Name, ks.Namespace, d.SecretRef.Name)
	case err != nil:
		return nil, fmt.Errorf("Kustomization %s/%s: read its decryption Secret '%s/%s': %w", ks.Namespace, ks.Name, ks.Namespace, d.SecretRef.Name, err)
	}
	return decrypt.FromSecret(secret)
}

// buildKustomization reads the Kustomization key and builds it as the
// controller does: from localPath when not empty, else from its source's
// artifact, decrypting with the keys of keyFiles or of its decryption
// Secret. The objects carry the owner labels.
func buildKustomization(ctx context.Context, cl client.Client, key types.NamespacedName, localPath string, keyFiles []string) (*kustomizev1.Kustomization, []*unstructured.Unstructured, error) {
	u, err := getObject(ctx, cl, kustomizationKind, key)
	if err != nil {
		return nil, nil, err
	}
	ks := &kustomizev1.Kustomization{}
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ks); err != nil {
		return nil, nil, fmt.Errorf("read Kustomization %s: %w", key, err)
	}
	spec := ks.Spec.DeepCopy()
	keys, err := decryptionKeys(ctx, cl, ks, keyFiles)
	if err != nil {
		return nil, nil, err
	}
	var root string
	if localPath != "" {
		if root, spec.Path, err = localBuildRoot(localPath); err != nil {
			return nil, nil, err
		}
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
	opts := kustomize.BuildOptions{NoRemoteBases: true}
	if keys != nil {
		opts.Decryption = keys // a nil *decrypt.Keys would be a Decrypter that is not nil
	}
	res, err := kustomize.BuildResult(ctx, root, spec, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("build of Kustomization %s failed: %w", key, err)
	}
	objs := res.Objects
	if pb := spec.PostBuild; pb != nil {
		if err := kustomize.Substitute(objs, pb, vars); err != nil {
			return nil, nil, fmt.Errorf("Kustomization %s: post-build substitution: %s", key, res.Redact(err.Error()))
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

// localBuildRoot returns the directory that a build of the local directory
// dir may read, and dir as a spec.path inside it. The root is the top of
// the Git work tree that holds dir, so that an overlay may refer to a base
// beside it ("../base") as it does in the source's artifact; outside a
// work tree, it is the current directory when that holds dir, and dir
// itself otherwise.
func localBuildRoot(dir string) (root, path string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("--path %s: %w", dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", "", fmt.Errorf("--path %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", "", fmt.Errorf("--path %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("--path %s is not a directory", dir)
	}
	root = gitWorkTree(abs)
	if root == "" {
		root = abs
		if wd, err := os.Getwd(); err == nil {
			if wd, err = filepath.EvalSymlinks(wd); err == nil && pathWithin(wd, abs) {
				root = wd
			}
		}
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", "", fmt.Errorf("--path %s: %w", dir, err)
	}
	if rel == "." {
		return root, "./", nil
	}
	return root, "./" + filepath.ToSlash(rel), nil
}

// gitWorkTree returns the top of the Git work tree that holds dir: the
// nearest directory, dir included, with a .git entry (a directory, or the
// file of a linked work tree or submodule). It returns "" outside one.
func gitWorkTree(dir string) string {
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// pathWithin reports whether path is dir or lies below it.
func pathWithin(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
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
