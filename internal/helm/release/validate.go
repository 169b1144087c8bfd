package release

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/openapi/cached"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/openapi"
	"k8s.io/kubectl/pkg/validation"
)

// fieldValidation remembers, for the whole process, which kinds the API
// server of a cluster validates itself (it supports the fieldValidation
// parameter), so that a Helm action does not decide it again.
//
// Helm checks every manifest it builds (install and upgrade build two or
// three times): kubectl's validator downloads the OpenAPI v3 document of
// the object's group version and decodes it whole, about 30 MB of
// allocations for apps/v1, only to find the parameter that every API
// server since Kubernetes 1.27 supports. Its cache lives as long as one
// validator, which is one build. Only the answer "supported" is kept: it
// does not change while a server runs, and a kind that is not known yet
// (a CRD the chart itself installs) is looked up again next time. The
// actions that start together (a controller starting on many releases)
// look a kind up one at a time, so that the first answer serves the
// others rather than each decoding the same document at once.
var fieldValidation supportCache

type supportCache struct{ kinds sync.Map }

// supportEntry is what is known of one kind of one cluster.
type supportEntry struct {
	mu        sync.Mutex
	supported bool
}

// factory is the kubectl factory of one Helm configuration, with the
// validator that consults fieldValidation first.
type factory struct {
	cmdutil.Factory
	host string
}

// Validator returns what kubectl's factory returns, except that the
// check of server-side field validation goes through fieldValidation.
func (f *factory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	schema := validation.ConjunctiveSchema{validation.NewSchemaValidation(f.Factory), validation.NoDoubleKeySchema{}}
	return validation.NewParamVerifyingSchema(schema, &sharedVerifier{factory: f}, directive), nil
}

// sharedVerifier answers from fieldValidation, and asks the server the
// way kubectl does (OpenAPI v3, else v2) when the kind is not known to be
// supported.
type sharedVerifier struct {
	factory *factory
	once    sync.Once
	inner   resource.Verifier
	err     error
}

func (v *sharedVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	e, _ := fieldValidation.kinds.LoadOrStore(v.factory.host+" "+gvk.String(), &supportEntry{})
	entry := e.(*supportEntry)
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if entry.supported {
		return nil
	}
	v.once.Do(func() {
		dyn, err := v.factory.DynamicClient()
		if err != nil {
			v.err = err
			return
		}
		disc, err := v.factory.ToDiscoveryClient()
		if err != nil {
			v.err = err
			return
		}
		param := resource.QueryParamFieldValidation
		v.inner = resource.NewFallbackQueryParamVerifier(
			resource.NewQueryParamVerifierV3(dyn, cached.NewClient(disc.OpenAPIV3()), param),
			resource.NewQueryParamVerifier(dyn, openapi.NewOpenAPIGetter(disc), param))
	})
	if v.err != nil {
		return v.err
	}
	err := v.inner.HasSupport(gvk)
	entry.supported = err == nil
	return err
}
