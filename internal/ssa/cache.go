package ssa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

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
// in the cluster since (its resourceVersion is still resourceVersion).
func (c *Cache) hit(ref ObjectRef, digest, resourceVersion string) bool {
	if c == nil || resourceVersion == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{ref.ID()}]
	return ok && e.digest == digest && e.resourceVersion == resourceVersion
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

// set records that ref was applied with digest and is now at
// resourceVersion.
func (c *Cache) set(ref ObjectRef, digest, resourceVersion string) {
	if c == nil || resourceVersion == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[cacheKey{ref.ID()}] = cacheEntry{digest: digest, resourceVersion: resourceVersion}
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
