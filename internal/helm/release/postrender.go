package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/postrenderer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/kustomize"
)

// RenderLabel is the label of a release in storage that records the
// post-rendering it was made with (spec.postRenderers and
// spec.commonMetadata), as RenderDigest computes it. It tells, as the
// chart and values do, whether the release is the desired one, and a
// rollback restores it with the release.
const RenderLabel = "helm.gotk.dev/render-digest"

// PostRender is what a HelmRelease's spec asks of the rendered manifests:
// its post-renderers in order, then commonMetadata, as Flux applies them.
type PostRender struct {
	// Renderer runs them all; nil when the spec asks for none.
	Renderer postrenderer.PostRenderer
	// PostRenderersDigest is "sha256:<hex>" of spec.postRenderers, ""
	// without any: status.observedPostRenderersDigest.
	PostRenderersDigest string
	// CommonMetadataDigest is the digest of spec.commonMetadata, "" when
	// it sets nothing: status.observedCommonMetadataDigest.
	CommonMetadataDigest string
}

// NewPostRender returns the post-rendering of hr.
func NewPostRender(hr *helmv2.HelmRelease) PostRender {
	var out PostRender
	var chain Chain
	for i, pr := range hr.Spec.PostRenderers {
		if pr.Kustomize == nil || (len(pr.Kustomize.Patches) == 0 && len(pr.Kustomize.Images) == 0) {
			continue
		}
		chain = append(chain, Kustomize{Index: i, Patches: pr.Kustomize.Patches, Images: pr.Kustomize.Images})
	}
	if len(hr.Spec.PostRenderers) > 0 {
		h := sha256.New()
		_ = json.NewEncoder(h).Encode(hr.Spec.PostRenderers)
		out.PostRenderersDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	if cm := hr.Spec.CommonMetadata; cm != nil && (len(cm.Labels) > 0 || len(cm.Annotations) > 0) {
		chain = append(chain, CommonMetadata{Labels: cm.Labels, Annotations: cm.Annotations})
		out.CommonMetadataDigest = ConfigDigest(map[string]any{"labels": cm.Labels, "annotations": cm.Annotations})
	}
	if len(chain) > 0 {
		out.Renderer = chain
	}
	return out
}

// RenderDigest is the value of RenderLabel for this post-rendering: ""
// when there is none, else 32 hex digits (a label value holds at most 63
// characters).
func (p PostRender) RenderDigest() string {
	if p.PostRenderersDigest == "" && p.CommonMetadataDigest == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(p.PostRenderersDigest + "\n" + p.CommonMetadataDigest))
	return hex.EncodeToString(sum[:16])
}

// Chain runs post-renderers one after the other.
type Chain []postrenderer.PostRenderer

// Run passes the manifests through each post-renderer in order.
func (c Chain) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, r := range c {
		if rendered, err = r.Run(rendered); err != nil {
			return nil, err
		}
	}
	return rendered, nil
}

// Kustomize is a Helm post-renderer that runs kustomize over the rendered
// manifests with the patches and images of spec.postRenderers[Index], on
// a file system in memory.
type Kustomize struct {
	Index   int
	Patches []meta.Patch
	Images  []meta.Image
}

// kustomizeDir is where the rendered manifests and the kustomization are
// written in the in-memory file system.
const kustomizeDir = "/helm"

// Run builds the kustomization that takes the rendered manifests as its
// only resource.
func (k Kustomize) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	where := fmt.Sprintf("spec.postRenderers[%d].kustomize", k.Index)
	if strings.TrimSpace(rendered.String()) == "" {
		return rendered, nil
	}
	kus := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: []string{"rendered.yaml"},
	}
	for _, p := range k.Patches {
		kus.Patches = append(kus.Patches, kustypes.Patch{Patch: p.Patch, Target: kustomize.Selector(p.Target)})
	}
	for _, img := range k.Images {
		kus.Images = append(kus.Images, kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	data, err := yaml.Marshal(kus)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	fs := filesys.MakeFsInMemory()
	if err := fs.MkdirAll(kustomizeDir); err != nil {
		return nil, err
	}
	if err := fs.WriteFile(kustomizeDir+"/kustomization.yaml", data); err != nil {
		return nil, err
	}
	if err := fs.WriteFile(kustomizeDir+"/rendered.yaml", rendered.Bytes()); err != nil {
		return nil, err
	}
	var m resmap.ResMap
	err = kustomize.Exclusive(func() (err error) {
		defer func() {
			// A bad patch must fail its release, not the controller.
			if r := recover(); r != nil {
				err = fmt.Errorf("kustomize panicked: %v", r)
			}
		}()
		k := krusty.MakeKustomizer(&krusty.Options{
			LoadRestrictions: kustypes.LoadRestrictionsRootOnly,
			PluginConfig:     kustypes.DisabledPluginConfig(),
		})
		m, err = k.Run(fs, kustomizeDir)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s", where, strings.ReplaceAll(err.Error(), kustomizeDir+"/", ""))
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return bytes.NewBuffer(out), nil
}

// CommonMetadata is a Helm post-renderer that sets labels and annotations
// on every object of the release (spec.commonMetadata), replacing values
// under the same keys.
type CommonMetadata struct {
	Labels, Annotations map[string]string
}

// Run sets the metadata on each rendered object.
func (m CommonMetadata) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	nodes, err := kio.ParseAll(rendered.String())
	if err != nil {
		return nil, fmt.Errorf("spec.commonMetadata: parse the rendered manifests: %w", err)
	}
	for _, n := range nodes {
		for _, k := range sortedKeys(m.Labels) {
			if err := n.PipeE(kyaml.SetLabel(k, m.Labels[k])); err != nil {
				return nil, fmt.Errorf("spec.commonMetadata: label %s: %w", k, err)
			}
		}
		for _, k := range sortedKeys(m.Annotations) {
			if err := n.PipeE(kyaml.SetAnnotation(k, m.Annotations[k])); err != nil {
				return nil, fmt.Errorf("spec.commonMetadata: annotation %s: %w", k, err)
			}
		}
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
