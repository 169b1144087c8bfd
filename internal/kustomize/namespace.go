package kustomize

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/builtins"
	"sigs.k8s.io/kustomize/api/filters/nameref"
	nsfilter "sigs.k8s.io/kustomize/api/filters/namespace"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/resid"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// onlyTargetNamespace reports whether targetNamespace is the one field of
// spec that changes the kustomization (commonMetadata is applied after
// the build).
func onlyTargetNamespace(spec *kustomizev1.KustomizationSpec) bool {
	return spec.TargetNamespace != "" && spec.NamePrefix == "" && spec.NameSuffix == "" &&
		len(spec.Patches) == 0 && len(spec.Images) == 0 && len(spec.Components) == 0 &&
		len(spec.BuildMetadata) == 0
}

// namespaceFieldSpecs are the fields, besides metadata.namespace, that
// kustomize's default configuration has its namespace transformer set: the
// name of a Namespace object, and the namespace of the service behind an
// APIService and behind a CRD's conversion webhook. Kustomize keeps its
// default configuration in an internal package (api v0.21.2:
// internal/konfig/builtinpluginconsts), so the entries are restated here;
// TestPlainNamespaceMatchesKustomize compares the result with a real
// build for each of them, which a kustomize upgrade that changes them
// would fail.
var namespaceFieldSpecs = []kustypes.FieldSpec{
	{Path: "metadata/name", Gvk: resid.Gvk{Kind: "Namespace"}, CreateIfNotPresent: true},
	{Path: "spec/service/namespace", Gvk: resid.Gvk{Group: "apiregistration.k8s.io", Kind: "APIService"}, CreateIfNotPresent: true},
	{Path: "spec/conversion/webhook/clientConfig/service/namespace", Gvk: resid.Gvk{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}},
}

// objectReference is one entry of kustomize's default name-reference
// configuration: field of referrer objects that refers to target objects.
type objectReference struct {
	target resid.Gvk
	field  kustypes.FieldSpec
}

// namespacedReferences are the entries of kustomize's default
// name-reference configuration (internal too) whose field is an object
// holding a name and a namespace rather than a name alone: the subjects of
// role bindings, the service of a webhook, the ConfigMap of a Node's
// config source. After moving objects, a build runs the name-reference
// filter over every entry; on these it sets the namespace of a reference
// to the object it finds by name (whatever the subject's kind: a User
// named like a ServiceAccount of the build gets the namespace too). On the
// other entries, whose fields hold a name, it writes the name of the
// object it finds, and a namespace change renames nothing that such a
// field refers to (a Namespace object, the one that gets renamed, is no
// entry's target), so running them would change nothing.
var namespacedReferences = []objectReference{
	{
		target: resid.Gvk{Version: "v1", Kind: "ConfigMap"},
		field:  kustypes.FieldSpec{Path: "spec/configSource/configMap", Gvk: resid.Gvk{Kind: "Node"}},
	},
	{
		target: resid.Gvk{Version: "v1", Kind: "Service"},
		field:  kustypes.FieldSpec{Path: "webhooks/clientConfig/service", Gvk: resid.Gvk{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}},
	},
	{
		target: resid.Gvk{Version: "v1", Kind: "Service"},
		field:  kustypes.FieldSpec{Path: "webhooks/clientConfig/service", Gvk: resid.Gvk{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}},
	},
	{
		target: resid.Gvk{Version: "v1", Kind: "ServiceAccount"},
		field:  kustypes.FieldSpec{Path: "subjects", Gvk: resid.Gvk{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}},
	},
	{
		target: resid.Gvk{Version: "v1", Kind: "ServiceAccount"},
		field:  kustypes.FieldSpec{Path: "subjects", Gvk: resid.Gvk{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}},
	},
}

// reservedAnnotationPrefixes mark annotations that steer kustomize itself
// (local configuration, hash suffixes, origins, build bookkeeping). An
// object carrying one is left to a full kustomize build.
var reservedAnnotationPrefixes = []string{
	"config.kubernetes.io/",
	"internal.config.kubernetes.io/",
	"alpha.config.kubernetes.io/",
	"kustomize.config.k8s.io/",
	"config.k8s.io/",
}

// reservedAnnotation reports whether annotations hold one that steers
// kustomize.
func reservedAnnotation(annotations map[string]string) bool {
	for k := range annotations {
		for _, p := range reservedAnnotationPrefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
	}
	return false
}

// steersKustomize reports whether an object carries an annotation that
// steers kustomize, which then has to build the objects itself.
func steersKustomize(objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if reservedAnnotation(o.GetAnnotations()) {
			return true
		}
	}
	return false
}

// buildPlain builds the plain files of a generated kustomization, moved
// to namespace, as kustomize would, without running
// a whole kustomize build: the files are read with kustomize's own
// resource factory (so that values read as kustomize reads them: YAML
// 1.2, where yes and on are strings), then, for a namespace, kustomize's
// namespace transformer and name-reference filter run in the order a
// build runs them, and the bookkeeping annotations are removed as a build
// removes them.
//
// It reports false when the build needs more than that (an object that
// kustomize reads differently, annotations that steer kustomize, objects
// that collide or a reference that is ambiguous): the caller then runs
// kustomize, which gives the authoritative result or error.
func buildPlain(c *confinedFS, files []string, namespace string) ([]*unstructured.Unstructured, bool) {
	data := make([][]byte, len(files))
	for i, f := range files {
		d, err := c.ReadFile(f)
		if err != nil {
			return nil, false
		}
		data[i] = d
	}
	res, ok := transformNamespace(data, namespace)
	if !ok {
		return nil, false
	}
	objs, err := toUnstructured(res)
	if err != nil {
		return nil, false
	}
	return objs, true
}

// transformNamespace loads the documents of data and moves them to
// namespace with kustomize's code, as a build of a kustomization that
// lists them and sets namespace would.
//
// A build appends every object to a resource map that checks, on each
// append and after moving each object, that no two objects share an
// identity, which costs the square of the object count. Here each object
// goes through the namespace transformer alone, and identities are checked
// with a map instead: two identities are equal for kustomize when group,
// version, kind, name and effective namespace are, so the checks agree.
// The transformer moves one object without looking at the others, and a
// collision that a build would see halfway (an object moved onto one not
// yet moved) is still there at the end, because the transformer leaves
// an object that already sits where it sends others where it is. So
// objects that collide neither before nor after are what the build
// gives, and on any collision a build runs instead and reports it. (When
// the objects include a referrer of namespacedReferences, the name
// references are followed in one resource map, which, as in a build,
// costs the square of the object count.)
//
// It holds buildMu: the scope of a kind (namespaced or cluster-wide), on
// which identities and the transformer depend, comes from kustomize's
// package-level OpenAPI state.
func transformNamespace(data [][]byte, namespace string) (res []*resource.Resource, ok bool) {
	buildMu.Lock()
	defer buildMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			res, ok = nil, false
		}
	}()
	// The schema a kustomize build of a generated kustomization selects.
	if err := openapi.SetSchema(nil, nil, true); err != nil {
		return nil, false
	}
	rf := provider.NewDepProvider().GetResourceFactory()
	for _, d := range data {
		rs, err := rf.SliceFromBytes(d)
		if err != nil {
			return nil, false
		}
		res = append(res, rs...)
	}
	for _, r := range res {
		if reservedAnnotation(r.GetAnnotations()) {
			return nil, false
		}
	}
	if !distinctIDs(res) {
		return nil, false
	}
	singles := make([]resmap.ResMap, len(res))
	for i, r := range res {
		singles[i] = resmap.New()
		if err := singles[i].Append(r); err != nil {
			return nil, false
		}
	}
	if !moveToNamespace(rf, res, singles, namespace) {
		return nil, false
	}
	for _, m := range singles {
		m.RemoveBuildAnnotations()
		if err := m.RemoveOriginAnnotations(); err != nil {
			return nil, false
		}
		if err := m.RemoveTransformerAnnotations(); err != nil {
			return nil, false
		}
	}
	return res, true
}

// moveToNamespace runs the namespace transformer over each resource (in
// its own map of singles) and follows the name references to the moved
// objects, as a build does; false when the result needs kustomize.
func moveToNamespace(rf *resource.Factory, res []*resource.Resource, singles []resmap.ResMap, namespace string) bool {
	// The namespace transformer as a build configures it for a
	// kustomization's namespace field (its Config leaves unsetOnly false
	// and defaults setRoleBindingSubjects to defaultOnly).
	p := &builtins.NamespaceTransformerPlugin{
		ObjectMeta:             kustypes.ObjectMeta{Namespace: namespace},
		FieldSpecs:             namespaceFieldSpecs,
		SetRoleBindingSubjects: nsfilter.DefaultSubjectsOnly,
	}
	referrers := false
	for i, r := range res {
		if err := p.Transform(singles[i]); err != nil {
			return false
		}
		for _, ref := range namespacedReferences {
			referrers = referrers || r.OrgId().IsSelected(&ref.field.Gvk)
		}
	}
	if !distinctIDs(res) {
		return false
	}

	// The name references that follow the objects to their namespace.
	if referrers {
		m := resmap.NewFactory(rf).FromResourceSlice(res)
		for _, r := range res {
			for _, ref := range namespacedReferences {
				if !r.OrgId().IsSelected(&ref.field.Gvk) {
					continue
				}
				candidates, err := m.SubsetThatCouldBeReferencedByResource(r)
				if err != nil {
					return false
				}
				f := nameref.Filter{Referrer: r, NameFieldToUpdate: ref.field, ReferralTarget: ref.target, ReferralCandidates: candidates}
				if err := r.ApplyFilter(f); err != nil {
					return false
				}
			}
		}
	}
	return true
}

// distinctIDs reports whether no two resources have the same identity in
// kustomize's sense (resid.ResId.Equals).
func distinctIDs(res []*resource.Resource) bool {
	type key struct{ group, version, kind, name, namespace string }
	seen := make(map[key]bool, len(res))
	for _, r := range res {
		id := r.CurId()
		k := key{id.Group, id.Version, id.Kind, id.Name, id.EffectiveNamespace()}
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}
