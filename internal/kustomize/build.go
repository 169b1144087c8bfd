package kustomize

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// BuildOptions tune Build.
type BuildOptions struct {
	// NoRemoteBases refuses kustomizations that reference anything outside
	// the artifact over the network (git or HTTP bases, resources,
	// components), before kustomize could fetch it.
	NoRemoteBases bool
	// Decryption, when set, decrypts the SOPS-encrypted files that the
	// build reads (resources, patches, and the files of secretGenerator and
	// configMapGenerator), in memory, before kustomize parses them. When
	// nil, files are read as they are.
	Decryption Decrypter
}

// Decrypter decrypts the SOPS-encrypted files of a build; *decrypt.Keys is
// the one the controllers use. It is an interface so that builds without
// decryption (the HelmRelease post-renderers) do not link SOPS and the
// cloud SDKs it brings, which would cost the helm controller's process
// tens of megabytes.
type Decrypter interface {
	// Encrypted reports whether data, the content of the file name, is
	// encrypted.
	Encrypted(name string, data []byte) bool
	// Decrypt returns the plaintext of data, the content of the file name
	// (relative to the artifact root), and the secret values it holds, to
	// redact from messages.
	Decrypt(name string, data []byte) (plain []byte, secrets []string, err error)
}

// buildMu serialises kustomize runs: kustomize keeps the OpenAPI schema
// in package state, which concurrent builds race on.
var buildMu sync.Mutex

// Exclusive runs fn while no other kustomize run of this process does:
// other packages that run kustomize (the HelmRelease post-renderers) go
// through it, as every controller shares kustomize's package state.
func Exclusive(fn func() error) error {
	buildMu.Lock()
	defer buildMu.Unlock()
	return fn()
}

// Build builds the kustomization at spec.Path inside root, the directory
// of an extracted artifact, with the changes that spec asks for, and
// returns the objects to apply. It neither writes to root nor reads
// outside it (remote bases aside, when allowed); see the package
// documentation for the rules.
func Build(ctx context.Context, root string, spec *kustomizev1.KustomizationSpec, opts BuildOptions) ([]*unstructured.Unstructured, error) {
	res, err := BuildResult(ctx, root, spec, opts)
	if err != nil {
		return nil, err
	}
	return res.Objects, nil
}

// Result is what a build made.
type Result struct {
	// Objects are the objects to apply.
	Objects []*unstructured.Unstructured
	// Remote reports that a kustomization of the build references
	// something fetched over the network (a git or HTTP base, resource or
	// component): the same artifact may build differently later, so the
	// result must not be reused for it.
	Remote bool
	// Decrypted reports that the build decrypted at least one file: the
	// objects hold secrets in plaintext.
	Decrypted bool
	// secrets are the decrypted values.
	secrets []string
}

// Redact replaces in msg the values that the build decrypted by "***",
// for messages about the built objects.
func (r *Result) Redact(msg string) string { return runtime.Redact(msg, r.secrets) }

// BuildResult is Build, and tells whether the build fetched anything
// remote.
func BuildResult(ctx context.Context, root string, spec *kustomizev1.KustomizationSpec, opts BuildOptions) (*Result, error) {
	if spec == nil {
		spec = &kustomizev1.KustomizationSpec{}
	}
	realRoot, err := resolveRoot(root)
	if err != nil {
		return nil, err
	}
	c := newConfinedFS(realRoot, !opts.NoRemoteBases)
	c.keys = opts.Decryption
	objs, remote, err := build(ctx, c, spec, opts)
	if err != nil {
		if c.decryptErr != nil {
			// kustomize wraps what the file system said; the decryption's
			// own message names the file and the cause.
			return nil, c.decryptErr
		}
		if len(c.secrets) > 0 {
			// kustomize may quote what it could not parse.
			return nil, &BuildError{msg: runtime.Redact(err.Error(), c.secrets)}
		}
		return nil, err
	}
	return &Result{Objects: objs, Remote: remote, Decrypted: len(c.decrypted) > 0, secrets: c.secrets}, nil
}

func build(ctx context.Context, c *confinedFS, spec *kustomizev1.KustomizationSpec, opts BuildOptions) (_ []*unstructured.Unstructured, remote bool, _ error) {
	realRoot := c.root
	dir, err := resolveDir(c, spec.Path)
	if err != nil {
		return nil, false, err
	}

	name, err := findKustomizationFile(c, dir)
	if err != nil {
		return nil, false, err
	}
	var kus *kustypes.Kustomization
	if name == "" {
		name = "kustomization.yaml"
		if kus, err = generateKustomization(ctx, c, dir); err != nil {
			return nil, false, err
		}
		if files, ok := plainFiles(c, dir, kus); ok && (!specChangesKustomization(spec) || onlyTargetNamespace(spec)) {
			var objs []*unstructured.Unstructured
			built := false
			if spec.TargetNamespace == "" {
				if objs, err = decodePlain(c, files); err != nil {
					return nil, false, err
				}
				built = !steersKustomize(objs)
			} else if objs, built = buildPlain(c, files, spec.TargetNamespace); !built {
				// Name the file (and line) of a broken manifest or of
				// duplicates, which decodePlain does better than kustomize.
				if _, err := decodePlain(c, files); err != nil {
					return nil, false, err
				}
			}
			if built {
				if cm := spec.CommonMetadata; cm != nil {
					setCommonMetadata(objs, cm)
				}
				return objs, false, nil
			}
			// Otherwise kustomize must run after all.
		}
	} else {
		file := filepath.Join(dir, name)
		data, err := c.ReadFile(file)
		if err != nil {
			return nil, false, err
		}
		kus = &kustypes.Kustomization{}
		if err := kus.Unmarshal(data); err != nil {
			return nil, false, fmt.Errorf("%s: %w", c.rel(file), err)
		}
		if !specChangesKustomization(spec) {
			kus = nil // build the user's file as it is
		}
	}
	if kus != nil {
		if err := applySpec(c, dir, kus, spec); err != nil {
			return nil, false, err
		}
		data, err := yaml.Marshal(kus)
		if err != nil {
			return nil, false, fmt.Errorf("writing the kustomization of %s: %w", displayDir(c.rel(dir)), err)
		}
		c.override(filepath.Join(dir, name), data)
	}

	rc := &refChecker{fs: c, noRemote: opts.NoRemoteBases, visited: map[string]bool{}}
	if err := rc.checkDir(dir); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}

	m, err := runKustomize(c, dir)
	if err != nil {
		if strings.Contains(err.Error(), "MalformedYAMLError") {
			if yerr := rc.diagnoseYAML(); yerr != nil {
				return nil, false, &BuildError{msg: yerr.Error(), err: err}
			}
		}
		return nil, false, cleanError(err, realRoot)
	}
	objs, err := toUnstructured(m.Resources())
	if err != nil {
		return nil, false, err
	}
	if cm := spec.CommonMetadata; cm != nil {
		setCommonMetadata(objs, cm)
	}
	return objs, rc.remote, nil
}

// resolveRoot returns the absolute, symlink-free path of the artifact root.
func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("artifact root: %w", err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("artifact root: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("artifact root %s is not a directory", root)
	}
	return real, nil
}

// resolveDir turns spec.path into a directory inside the root. A leading
// "/" means the root, as in Flux; a ".." that climbs above the root, or a
// symlink that leads out of it, is refused.
func resolveDir(c *confinedFS, path string) (string, error) {
	depth := 0
	for _, seg := range strings.Split(filepath.ToSlash(path), "/") {
		switch seg {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("spec.path %q leads outside the artifact root", path)
			}
		default:
			depth++
		}
	}
	rel := filepath.Clean(strings.TrimLeft(filepath.FromSlash(path), string(filepath.Separator)))
	p := filepath.Join(c.root, rel)
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("spec.path %q does not exist in the artifact", path)
	}
	if err != nil {
		return "", fmt.Errorf("spec.path %q: %w", path, cleanError(err, c.root))
	}
	if !within(c.root, real) {
		return "", fmt.Errorf("spec.path %q leads outside the artifact root through a symlink", path)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("spec.path %q: %w", path, cleanError(err, c.root))
	}
	if !info.IsDir() {
		return "", fmt.Errorf("spec.path %q is not a directory", path)
	}
	return real, nil
}

// specChangesKustomization reports whether spec asks for a change of the
// kustomization file (commonMetadata is applied after the build).
func specChangesKustomization(spec *kustomizev1.KustomizationSpec) bool {
	return spec.TargetNamespace != "" || spec.NamePrefix != "" || spec.NameSuffix != "" ||
		len(spec.Patches) > 0 || len(spec.Images) > 0 || len(spec.Components) > 0 ||
		len(spec.BuildMetadata) > 0
}

// applySpec amends the kustomization of dir with the fields of spec, the
// way Flux does: targetNamespace, namePrefix and nameSuffix replace the
// kustomization's own, patches and components are appended, and an image
// replaces the kustomization's entry of the same name.
func applySpec(c *confinedFS, dir string, kus *kustypes.Kustomization, spec *kustomizev1.KustomizationSpec) error {
	if spec.TargetNamespace != "" {
		kus.Namespace = spec.TargetNamespace
	}
	if spec.NamePrefix != "" {
		kus.NamePrefix = spec.NamePrefix
	}
	if spec.NameSuffix != "" {
		kus.NameSuffix = spec.NameSuffix
	}
	for _, p := range spec.Patches {
		kus.Patches = append(kus.Patches, kustypes.Patch{Patch: p.Patch, Target: Selector(p.Target)})
	}
	for _, img := range spec.Images {
		entry := kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest}
		replaced := false
		for i := range kus.Images {
			if kus.Images[i].Name == img.Name {
				kus.Images[i], replaced = entry, true
			}
		}
		if !replaced {
			kus.Images = append(kus.Images, entry)
		}
	}
	for i, comp := range spec.Components {
		if isRemote(comp) || filepath.IsAbs(comp) {
			return fmt.Errorf("spec.components[%d] %q: components must be paths relative to spec.path", i, comp)
		}
		real, err := c.resolve(filepath.Join(dir, comp))
		if err != nil {
			return fmt.Errorf("spec.components[%d] %q leads outside the artifact root", i, comp)
		}
		if !c.IsDir(real) {
			if spec.IgnoreMissingComponents {
				continue
			}
			return fmt.Errorf("spec.components[%d] %q: no such directory in the artifact (set ignoreMissingComponents to skip it)", i, comp)
		}
		kus.Components = append(kus.Components, filepath.ToSlash(comp))
	}
	for _, opt := range spec.BuildMetadata {
		kus.BuildMetadata = append(kus.BuildMetadata, string(opt))
	}
	return nil
}

// Selector is a patch target of the API as kustomize takes it.
func Selector(s *meta.Selector) *kustypes.Selector {
	if s == nil {
		return nil
	}
	return &kustypes.Selector{
		ResId: resid.ResId{
			Gvk:       resid.Gvk{Group: s.Group, Version: s.Version, Kind: s.Kind},
			Name:      s.Name,
			Namespace: s.Namespace,
		},
		AnnotationSelector: s.AnnotationSelector,
		LabelSelector:      s.LabelSelector,
	}
}

// runKustomize runs krusty on dir with builtin plugins only and no load
// restriction of its own: c confines every read to the artifact.
func runKustomize(c *confinedFS, dir string) (m resmap.ResMap, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	defer func() {
		// Odd input has made kustomize panic before; a bad manifest must
		// fail its own build, not the controller.
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize build panicked: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	return k.Run(c, dir)
}

// toUnstructured converts kustomize's resources, through JSON so that
// numbers become int64 or float64 as the rest of Kubernetes expects.
func toUnstructured(resources []*resource.Resource) ([]*unstructured.Unstructured, error) {
	objs := make([]*unstructured.Unstructured, 0, len(resources))
	for _, r := range resources {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// setCommonMetadata sets labels and annotations on every object, replacing
// values under the same keys; selectors and templates are left alone.
func setCommonMetadata(objs []*unstructured.Unstructured, cm *meta.CommonMetadata) {
	for _, obj := range objs {
		if len(cm.Labels) > 0 {
			labels := obj.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			for k, v := range cm.Labels {
				labels[k] = v
			}
			obj.SetLabels(labels)
		}
		if len(cm.Annotations) > 0 {
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			for k, v := range cm.Annotations {
				annotations[k] = v
			}
			obj.SetAnnotations(annotations)
		}
	}
}

// BuildError is a failed kustomize build. Its message shows paths relative
// to the artifact root rather than the temporary directory it was
// extracted to.
type BuildError struct {
	msg string
	err error
}

// Error returns the message, with paths relative to the artifact root.
func (e *BuildError) Error() string { return e.msg }

// Unwrap returns kustomize's own error.
func (e *BuildError) Unwrap() error { return e.err }

func cleanError(err error, root string) error {
	msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, root, ".")
	return &BuildError{msg: msg, err: err}
}
