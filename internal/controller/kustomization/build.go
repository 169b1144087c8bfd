package kustomization

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// buildCache remembers the last build of each Kustomization with the key
// of its inputs. The objects are shared read-only: the apply engine copies
// what it sends.
type buildCache struct {
	m sync.Map // types.NamespacedName -> *build
}

type build struct {
	key    string
	objs   []*unstructured.Unstructured
	digest string
	// redact removes decrypted values from a message.
	redact func(string) string
}

func (c *buildCache) get(nn types.NamespacedName, key string) (*build, bool) {
	v, ok := c.m.Load(nn)
	if !ok || v.(*build).key != key {
		return nil, false
	}
	return v.(*build), true
}

func (c *buildCache) put(nn types.NamespacedName, b *build) { c.m.Store(nn, b) }

// objectsDigest digests the built objects, in order, as
// "sha256:<hex>": the identity of what a reconcile applies, which
// status.history records. When secretKey is set (a build that decrypted
// files), the values of Secrets enter the digest through an HMAC keyed
// with it, so that the digest, which anyone who may read the
// Kustomization sees, gives no way to guess a short secret value.
func objectsDigest(objs []*unstructured.Unstructured, secretKey []byte) (string, error) {
	h := sha256.New()
	for _, o := range objs {
		if secretKey != nil && o.GetAPIVersion() == "v1" && o.GetKind() == "Secret" {
			o = hmacSecretValues(o, secretKey)
		}
		data, err := json.Marshal(o.Object)
		if err != nil {
			return "", fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		h.Write(data)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hmacSecretValues returns a copy of the Secret o whose data and
// stringData values are replaced by their HMAC-SHA256 under key.
func hmacSecretValues(o *unstructured.Unstructured, key []byte) *unstructured.Unstructured {
	c := o.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok := c.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			mac := hmac.New(sha256.New, key)
			fmt.Fprint(mac, v)
			m[k] = "hmac:" + hex.EncodeToString(mac.Sum(nil))
		}
	}
	return c
}

func (c *buildCache) forget(nn types.NamespacedName) { c.m.Delete(nn) }

// buildInputs are the inputs of a build besides the artifact's content.
type buildInputs struct {
	Path                    string                            `json:"path"`
	TargetNamespace         string                            `json:"targetNamespace"`
	NamePrefix              string                            `json:"namePrefix"`
	NameSuffix              string                            `json:"nameSuffix"`
	CommonMetadata          *meta.CommonMetadata              `json:"commonMetadata"`
	Patches                 []meta.Patch                      `json:"patches"`
	Images                  []meta.Image                      `json:"images"`
	Components              []string                          `json:"components"`
	IgnoreMissingComponents bool                              `json:"ignoreMissingComponents"`
	BuildMetadata           []kustomizev1.BuildMetadataOption `json:"buildMetadata"`
	PostBuild               *kustomizev1.PostBuild            `json:"postBuild"`
	Variables               map[string]string                 `json:"variables"`
	NoRemoteBases           bool                              `json:"noRemoteBases"`
	Strict                  bool                              `json:"strict"`
	Decryption              *kustomizev1.Decryption           `json:"decryption"`
	// Keys digests the decryption keys, so that rotated keys build again.
	Keys string `json:"keys"`
}

// buildKey digests everything a build depends on: the artifact (by its
// digest), the spec fields that change the build, the values of the
// substitution variables, and the decryption keys (by their digest).
// encoding/json sorts map keys, so equal inputs give equal keys.
func buildKey(digest string, spec *kustomizev1.KustomizationSpec, vars map[string]string, keys string, noRemoteBases, strict bool) (string, error) {
	data, err := json.Marshal(buildInputs{
		Path: spec.Path, TargetNamespace: spec.TargetNamespace, NamePrefix: spec.NamePrefix, NameSuffix: spec.NameSuffix,
		CommonMetadata: spec.CommonMetadata, Patches: spec.Patches, Images: spec.Images, Components: spec.Components,
		IgnoreMissingComponents: spec.IgnoreMissingComponents, BuildMetadata: spec.BuildMetadata, PostBuild: spec.PostBuild,
		Variables: vars, NoRemoteBases: noRemoteBases, Strict: strict, Decryption: spec.Decryption, Keys: keys,
	})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(digest))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// addToInventory returns inv with the objects that a failed apply created
// or changed added, so that they are pruned once they leave Git even
// though their revision never applied in full. Nothing is removed.
func addToInventory(inv *meta.ResourceInventory, cs *ssa.ChangeSet) *meta.ResourceInventory {
	if cs == nil {
		return inv
	}
	var touched ssa.ChangeSet
	for _, e := range cs.Entries {
		if e.Action == ssa.ActionCreated || e.Action == ssa.ActionConfigured {
			touched.Add(e.Ref, e.Action)
		}
	}
	if len(touched.Entries) == 0 {
		return inv
	}
	merged := ssa.Inventory(&touched)
	if inv == nil {
		return merged
	}
	seen := map[string]bool{}
	for _, e := range merged.Entries {
		seen[e.ID] = true
	}
	for _, e := range inv.Entries {
		if !seen[e.ID] {
			merged.Entries = append(merged.Entries, e)
		}
	}
	sort.Slice(merged.Entries, func(i, j int) bool { return merged.Entries[i].ID < merged.Entries[j].ID })
	return merged
}

// unionInventory returns the objects of the old inventory and of the new
// one, less those that the prune deleted: what a failed prune leaves in
// the care of the Kustomization. An object in both keeps the new one's
// API version.
func unionInventory(old, new *meta.ResourceInventory, pruned *ssa.ChangeSet) *meta.ResourceInventory {
	gone := map[string]bool{}
	if pruned != nil {
		for _, e := range pruned.Entries {
			if e.Action == ssa.ActionPruned {
				gone[e.Ref.ID()] = true
			}
		}
	}
	out := &meta.ResourceInventory{Entries: []meta.ResourceRef{}}
	seen := map[string]bool{}
	for _, inv := range []*meta.ResourceInventory{new, old} {
		if inv == nil {
			continue
		}
		for _, e := range inv.Entries {
			if seen[e.ID] || gone[e.ID] {
				continue
			}
			seen[e.ID] = true
			out.Entries = append(out.Entries, e)
		}
	}
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].ID < out.Entries[j].ID })
	return out
}
