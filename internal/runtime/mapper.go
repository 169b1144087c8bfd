package runtime

import (
	"net/http"
	"sync"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// CachedRESTMapper remembers the mappings that its RESTMapper found, by
// group, kind and version. controller-runtime's dynamic mapper answers
// each RESTMapping by walking its priority list, which allocates several
// KiB a call; the clients ask it once per request, and an apply of a few
// thousand objects asks it thousands of times for the same few kinds.
//
// Only found mappings are kept, so a kind that is not served yet is asked
// again; Reset forgets everything, and resets the mapper beneath when it
// can be reset (as after CRDs were applied).
type CachedRESTMapper struct {
	apimeta.RESTMapper
	mu       sync.RWMutex
	mappings map[mappingKey]*apimeta.RESTMapping
}

type mappingKey struct {
	gk      schema.GroupKind
	version string
}

// NewCachedRESTMapper wraps m.
func NewCachedRESTMapper(m apimeta.RESTMapper) *CachedRESTMapper {
	return &CachedRESTMapper{RESTMapper: m, mappings: map[mappingKey]*apimeta.RESTMapping{}}
}

// RESTMapping returns the mapping of gk in the first of versions that is
// served (the preferred version without any).
func (c *CachedRESTMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*apimeta.RESTMapping, error) {
	if len(versions) > 1 {
		return c.RESTMapper.RESTMapping(gk, versions...)
	}
	k := mappingKey{gk: gk}
	if len(versions) == 1 {
		k.version = versions[0]
	}
	c.mu.RLock()
	m, ok := c.mappings[k]
	c.mu.RUnlock()
	if ok {
		return m, nil
	}
	m, err := c.RESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.mappings[k] = m
	c.mu.Unlock()
	return m, nil
}

// Reset forgets the mappings found, and resets the mapper beneath.
func (c *CachedRESTMapper) Reset() {
	c.mu.Lock()
	c.mappings = map[mappingKey]*apimeta.RESTMapping{}
	c.mu.Unlock()
	if r, ok := c.RESTMapper.(apimeta.ResettableRESTMapper); ok {
		r.Reset()
	}
}

var _ apimeta.ResettableRESTMapper = &CachedRESTMapper{}

// MapperProvider builds the manager's RESTMapper: controller-runtime's
// dynamic mapper behind a CachedRESTMapper. Pass it as
// ctrl.Options.MapperProvider.
func MapperProvider(cfg *rest.Config, hc *http.Client) (apimeta.RESTMapper, error) {
	m, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, err
	}
	return NewCachedRESTMapper(m), nil
}
