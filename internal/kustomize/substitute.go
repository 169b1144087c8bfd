package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// VarNamePattern is the pattern that every substitution variable name must
// match, the same as Flux's.
const VarNamePattern = `^[_[:alpha:]][_[:alpha:][:digit:]]*$`

var varNameRE = regexp.MustCompile(VarNamePattern)

// VarSource reads the data of the ConfigMaps and Secrets that
// spec.postBuild.substituteFrom names. Get returns the data keys and
// values (Secret values decoded), and an error for which
// apierrors.IsNotFound is true when the object does not exist.
type VarSource interface {
	Get(ctx context.Context, kind, namespace, name string) (map[string]string, error)
}

// ClientVarSource is a VarSource that reads from the Kubernetes API. Give
// it the manager's API reader rather than its cached client, so that the
// controller does not cache every Secret of the cluster.
type ClientVarSource struct {
	// Reader reads the objects.
	Reader client.Reader
}

// Get returns the data of the ConfigMap or Secret namespace/name. Binary
// ConfigMap data is left out, as Flux does.
func (s ClientVarSource) Get(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	switch kind {
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err := s.Reader.Get(ctx, key, &cm); err != nil {
			return nil, err
		}
		return maps.Clone(cm.Data), nil
	case "Secret":
		var secret corev1.Secret
		if err := s.Reader.Get(ctx, key, &secret); err != nil {
			return nil, err
		}
		data := make(map[string]string, len(secret.Data))
		for k, v := range secret.Data {
			data[k] = string(v)
		}
		return data, nil
	default:
		return nil, fmt.Errorf("substituteFrom kind %q is not supported: use ConfigMap or Secret", kind)
	}
}

// LoadVariables gathers the variables of postBuild for a Kustomization in
// namespace: the data of each substituteFrom object in order, a later one
// overriding an earlier one, then the inline substitute map, which
// overrides them all. A missing object is skipped when it is optional and
// an error naming it otherwise. Newlines are removed from the values, as
// Flux does, so that a value cannot add lines to a manifest.
func LoadVariables(ctx context.Context, src VarSource, namespace string, pb *kustomizev1.PostBuild) (map[string]string, error) {
	vars := map[string]string{}
	if pb == nil {
		return vars, nil
	}
	for i, ref := range pb.SubstituteFrom {
		where := fmt.Sprintf("spec.postBuild.substituteFrom[%d] %s %s/%s", i, ref.Kind, namespace, ref.Name)
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			return nil, fmt.Errorf("%s: kind %q is not supported: use ConfigMap or Secret", where, ref.Kind)
		}
		if src == nil {
			return nil, fmt.Errorf("%s: no source of variables was given", where)
		}
		data, err := src.Get(ctx, ref.Kind, namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				if ref.Optional {
					continue
				}
				return nil, fmt.Errorf("%s not found (set optional: true to go on without it): %w", where, err)
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for k, v := range data {
			if !varNameRE.MatchString(k) {
				return nil, fmt.Errorf("%s: key %q is not a valid variable name: it must match %s", where, k, VarNamePattern)
			}
			vars[k] = stripNewlines(v)
		}
	}
	for k, v := range pb.Substitute {
		vars[k] = stripNewlines(v)
	}
	return vars, nil
}

func stripNewlines(s string) string { return strings.ReplaceAll(s, "\n", "") }

// SubstituteOptions tune SubstituteWithOptions.
type SubstituteOptions struct {
	// Strict fails the substitution when a manifest reads a variable that
	// has no value and no default, instead of substituting an empty
	// string. It is Flux's StrictPostBuildSubstitutions feature gate.
	Strict bool
}

// Substitute replaces the ${var} expressions of objs in place with the
// default (non-strict) options; see SubstituteWithOptions.
func Substitute(objs []*unstructured.Unstructured, pb *kustomizev1.PostBuild, vars map[string]string) error {
	return SubstituteWithOptions(objs, pb, vars, SubstituteOptions{})
}

// SubstituteWithOptions replaces the ${var} expressions of objs in place,
// with the rules of Expand, as Flux's post-build substitution does: the
// object is written as YAML, substituted as text and read back, so that
// "replicas: ${count}" becomes a number.
//
// vars are the variables that LoadVariables returned; pb.Substitute is laid
// over them again, so that inline values win even if the caller gathered
// only substituteFrom. Nothing happens when pb is nil, nor when there is no
// variable at all and pb.SubstituteStrategy is not Always. An object
// labelled or annotated kustomize.toolkit.fluxcd.io/substitute: disabled
// is left alone. A variable that is not set renders empty unless
// opts.Strict is set, when it fails the substitution.
func SubstituteWithOptions(objs []*unstructured.Unstructured, pb *kustomizev1.PostBuild, vars map[string]string, opts SubstituteOptions) error {
	if pb == nil {
		return nil
	}
	all := make(map[string]string, len(vars)+len(pb.Substitute))
	maps.Copy(all, vars)
	for k, v := range pb.Substitute {
		all[k] = stripNewlines(v)
	}
	if len(all) == 0 && pb.SubstituteStrategy != kustomizev1.SubstituteAlways {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if !varNameRE.MatchString(name) {
			return fmt.Errorf("variable name %q is not valid: it must match %s", name, VarNamePattern)
		}
	}
	lookup := func(name string) (string, bool) {
		v, ok := all[name]
		return v, ok
	}
	for _, obj := range objs {
		if substitutionDisabled(obj) {
			continue
		}
		if err := substituteObject(obj, lookup, opts.Strict); err != nil {
			return fmt.Errorf("substituting variables in %s: %w", objectRef(obj), err)
		}
	}
	return nil
}

func substitutionDisabled(obj *unstructured.Unstructured) bool {
	key := kustomizev1.SubstituteAnnotation
	return obj.GetAnnotations()[key] == kustomizev1.DisabledValue ||
		obj.GetLabels()[key] == kustomizev1.DisabledValue
}

func substituteObject(obj *unstructured.Unstructured, lookup func(string) (string, bool), strict bool) error {
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return err
	}
	if !bytes.ContainsRune(data, '$') {
		return nil
	}
	out, err := Expand(string(data), lookup, strict)
	var serr *SyntaxError
	if errors.As(err, &serr) && obj.GetKind() == "Secret" {
		// Do not quote a Secret's manifest, even a few bytes of it.
		return fmt.Errorf("bad substitution at offset %d of the manifest: %s", serr.Offset, serr.Reason)
	}
	if err != nil {
		return err
	}
	if out == string(data) {
		return nil
	}
	j, err := yaml.YAMLToJSON([]byte(out))
	if err != nil {
		return fmt.Errorf("the substituted manifest is not valid YAML (a value may need quoting): %w", err)
	}
	var res unstructured.Unstructured
	if err := res.UnmarshalJSON(j); err != nil {
		return fmt.Errorf("the substituted manifest is not a valid object: %w", err)
	}
	obj.Object = res.Object
	return nil
}

// objectRef names an object as Kind/namespace/name, or Kind/name.
func objectRef(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + "/" + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + "/" + obj.GetName()
}

// IsVariableNotSet reports whether err comes from a strict substitution
// that met a variable without a value.
func IsVariableNotSet(err error) bool { return errors.Is(err, ErrVariableNotSet) }
