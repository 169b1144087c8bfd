package ssa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Cache remembers, per object, what was last applied: the digest of the
// desired object after normalization and the object's resourceVersion in
// the cluster right after that apply (or after the dry-run that found it
// unchanged). When both are the same on the next apply, nothing can have
// changed, neither in Git nor in the cluster, and the object costs no
// dry-run and no write. Any edit in the cluster moves the resourceVersion,
// so drift is still found and corrected.
//
// An object with a metadata.generation whose resourceVersion moved while
// its generation and metadata (uid, labels, annotations, finalizers,
// owner references, deletion) stayed the same had only its status
// written, by its own controller (a Deployment becoming Available): that
// is no drift either, and it costs no dry-run.
//
// A Cache belongs to one cluster: give each cluster (each kubeconfig) its
// own. It is safe for concurrent use and may be shared by the Managers of
// many owners; the owner labels are part of the digest, so two owners never
// take each other's entries for their own.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	id string // inventory ID: namespace, name, group, kind
}

type cacheEntry struct {
	digest          string
	resourceVersion string
	generation      int64
	meta            string // metaDigest, when generation is set
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[cacheKey]cacheEntry{}}
}

// Len returns the number of objects remembered.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// hit reports whether ref was last applied with digest and has not changed
// in the cluster since, other than in its status: live has the same
// resourceVersion, or the same generation and metadata.
func (c *Cache) hit(ref ObjectRef, digest string, live metav1.Object) bool {
	if c == nil || live == nil || live.GetResourceVersion() == "" {
		return false
	}
	c.mu.Lock()
	e, ok := c.entries[cacheKey{ref.ID()}]
	c.mu.Unlock()
	if !ok || e.digest != digest {
		return false
	}
	if e.resourceVersion == live.GetResourceVersion() {
		return true
	}
	return e.generation != 0 && e.generation == live.GetGeneration() && e.meta == metaDigest(live)
}

// known reports whether ref was last applied with digest, so that only
// its resourceVersion is left to compare.
func (c *Cache) known(ref ObjectRef, digest string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{ref.ID()}]
	return ok && e.digest == digest
}

// set records that ref was applied with digest and is now live.
func (c *Cache) set(ref ObjectRef, digest string, live metav1.Object) {
	if c == nil || live == nil || live.GetResourceVersion() == "" {
		return
	}
	e := cacheEntry{digest: digest, resourceVersion: live.GetResourceVersion(), generation: live.GetGeneration()}
	if e.generation != 0 {
		e.meta = metaDigest(live)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[cacheKey{ref.ID()}] = e
}

// metaDigest sums the metadata that an edit in the cluster may change
// without moving the generation. Annotations of the Kubernetes domains
// (kubernetes.io, k8s.io), which the controllers of the cluster write
// (deployment.kubernetes.io/revision), are left out.
func metaDigest(o metav1.Object) string {
	annotations := map[string]string{}
	for k, v := range o.GetAnnotations() {
		if prefix, _, ok := strings.Cut(k, "/"); ok && (isDomain(prefix, "kubernetes.io") || isDomain(prefix, "k8s.io")) {
			continue
		}
		annotations[k] = v
	}
	data, err := json.Marshal(struct {
		UID         string                  `json:"u"`
		Labels      map[string]string       `json:"l"`
		Annotations map[string]string       `json:"a"`
		Finalizers  []string                `json:"f"`
		Owners      []metav1.OwnerReference `json:"o"`
		Deleting    bool                    `json:"d"`
	}{string(o.GetUID()), o.GetLabels(), annotations, o.GetFinalizers(), o.GetOwnerReferences(), o.GetDeletionTimestamp() != nil})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Forget drops what is remembered about ref, so that its next apply is a
// full one.
func (c *Cache) Forget(ref ObjectRef) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, cacheKey{ref.ID()})
}

// digestOf returns the sha256 of the object's JSON together with the
// settings that change what an apply of it does, and the JSON's size.
// encoding/json writes map keys sorted, so equal objects give equal
// digests.
func digestOf(u *unstructured.Unstructured, fieldManager, mode string) (string, int, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	h.Write([]byte(fieldManager))
	h.Write([]byte{0})
	h.Write([]byte(mode))
	h.Write([]byte{0})
	h.Write(data)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), len(data), nil
}

// isDomain reports whether host is domain or one of its subdomains.
func isDomain(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}
