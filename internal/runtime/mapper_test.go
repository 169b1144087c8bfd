package runtime

import (
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type countingMapper struct {
	*apimeta.DefaultRESTMapper
	calls  int
	resets int
}

func (m *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*apimeta.RESTMapping, error) {
	m.calls++
	return m.DefaultRESTMapper.RESTMapping(gk, versions...)
}

func (m *countingMapper) Reset() { m.resets++ }

func TestCachedRESTMapperAsksOnceUntilReset(t *testing.T) {
	apps := schema.GroupVersion{Group: "apps", Version: "v1"}
	inner := &countingMapper{DefaultRESTMapper: apimeta.NewDefaultRESTMapper([]schema.GroupVersion{apps})}
	inner.Add(apps.WithKind("Deployment"), apimeta.RESTScopeNamespace)
	m := NewCachedRESTMapper(inner)
	deploy := schema.GroupKind{Group: "apps", Kind: "Deployment"}

	for range 3 {
		mapping, err := m.RESTMapping(deploy, "v1")
		if err != nil {
			t.Fatal(err)
		}
		if mapping.Resource.Resource != "deployments" || mapping.Scope.Name() != apimeta.RESTScopeNameNamespace {
			t.Fatalf("mapping = %+v", mapping)
		}
	}
	if inner.calls != 1 {
		t.Errorf("the mapper beneath was asked %d times for one kind and version, want 1", inner.calls)
	}

	// A kind not served is asked for again each time: it may be served
	// later, when its CRD is applied.
	widget := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	for range 2 {
		if _, err := m.RESTMapping(widget, "v1"); !apimeta.IsNoMatchError(err) {
			t.Fatalf("err = %v, want a no-match error", err)
		}
	}
	if inner.calls != 3 {
		t.Errorf("calls = %d after two misses, want 3", inner.calls)
	}

	m.Reset()
	if inner.resets != 1 {
		t.Errorf("Reset did not reset the mapper beneath")
	}
	if _, err := m.RESTMapping(deploy, "v1"); err != nil {
		t.Fatal(err)
	}
	if inner.calls != 4 {
		t.Errorf("calls = %d after Reset, want the mapping asked for again (4)", inner.calls)
	}
}
