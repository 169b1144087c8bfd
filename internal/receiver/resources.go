package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	imagev1 "github.com/gotk-dev/gotk/api/image/v1"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	sourceextv1beta1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
)

// defaultVersions are the group/versions that a resource without
// apiVersion is looked up in, by kind.
var defaultVersions = map[string]schema.GroupVersion{
	sourcev1.GitRepositoryKind:             sourcev1.GroupVersion,
	sourcev1.OCIRepositoryKind:             sourcev1.GroupVersion,
	sourcev1.HelmRepositoryKind:            sourcev1.GroupVersion,
	sourcev1.HelmChartKind:                 sourcev1.GroupVersion,
	sourcev1.BucketKind:                    sourcev1.GroupVersion,
	sourcev1.ExternalArtifactKind:          sourcev1.GroupVersion,
	sourceextv1beta1.ArtifactGeneratorKind: sourceextv1beta1.GroupVersion,
	kustomizev1.KustomizationKind:          kustomizev1.GroupVersion,
	helmv2.HelmReleaseKind:                 helmv2.GroupVersion,
	imagev1.ImageRepositoryKind:            imagev1.GroupVersion,
	imagev1.ImagePolicyKind:                imagev1.GroupVersion,
	imagev1.ImageUpdateAutomationKind:      imagev1.GroupVersion,
}

// ResourceGVK returns the kind of objects a resource entry names.
func ResourceGVK(res notificationv1.ReceiverResource) (schema.GroupVersionKind, error) {
	if res.APIVersion != "" {
		gv, err := schema.ParseGroupVersion(res.APIVersion)
		if err != nil {
			return schema.GroupVersionKind{}, fmt.Errorf("apiVersion %q: %w", res.APIVersion, err)
		}
		return gv.WithKind(res.Kind), nil
	}
	gv, ok := defaultVersions[res.Kind]
	if !ok {
		return schema.GroupVersionKind{}, fmt.Errorf("kind %q has no default apiVersion: set apiVersion", res.Kind)
	}
	return gv.WithKind(res.Kind), nil
}

// Validate reports what in a Receiver's spec cannot work: a resource that
// names no kind gotk knows, a "*" without matchLabels, a reference to
// another namespace when those are refused, or a CEL filter that does not
// compile to a bool.
func Validate(obj *notificationv1.Receiver, noCrossNamespaceRefs bool) error {
	if _, err := compileFilter(obj.Spec.ResourceFilter); err != nil {
		return fmt.Errorf("spec.resourceFilter: %w", err)
	}
	for i, res := range obj.Spec.Resources {
		if _, err := ResourceGVK(res); err != nil {
			return fmt.Errorf("spec.resources[%d]: %w", i, err)
		}
		if res.Name == "*" && len(res.MatchLabels) == 0 {
			return fmt.Errorf("spec.resources[%d]: name \"*\" needs matchLabels to select %s objects", i, res.Kind)
		}
		if noCrossNamespaceRefs && res.Namespace != "" && res.Namespace != obj.Namespace {
			return fmt.Errorf("spec.resources[%d]: namespace %q: cross-namespace references are not allowed (--no-cross-namespace-refs)", i, res.Namespace)
		}
		if _, err := compileFilter(res.Filter); err != nil {
			return fmt.Errorf("spec.resources[%d].filter: %w", i, err)
		}
	}
	return nil
}

// compileFilter compiles a CEL filter over `res` and `req`; an empty one
// is nil and passes everything.
func compileFilter(expr string) (cel.Program, error) {
	if expr == "" {
		return nil, nil
	}
	env, err := cel.NewEnv(cel.Variable("res", cel.DynType), cel.Variable("req", cel.DynType))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%q does not compile: %w", expr, iss.Err())
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("%q returns %s, not a bool", expr, ast.OutputType())
	}
	return env.Program(ast)
}

// evalFilter runs a compiled filter; a nil one passes.
func evalFilter(prg cel.Program, res, req map[string]any) (bool, error) {
	if prg == nil {
		return true, nil
	}
	out, _, err := prg.Eval(map[string]any{"res": res, "req": req})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("returned %v, not a bool", out.Value())
	}
	return b, nil
}

// Target is one object a webhook asked to reconcile.
type Target struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

func (t Target) String() string {
	return fmt.Sprintf("%s/%s/%s", t.GVK.Kind, t.Namespace, t.Name)
}

// selectTargets lists the objects of obj.Spec.Resources that the CEL
// filters pass for the request payload.
func selectTargets(ctx context.Context, c client.Reader, obj *notificationv1.Receiver, payload []byte, noCrossNamespaceRefs bool) ([]Target, error) {
	if err := Validate(obj, noCrossNamespaceRefs); err != nil {
		return nil, err
	}
	global, _ := compileFilter(obj.Spec.ResourceFilter)
	var req map[string]any
	if len(payload) > 0 {
		// A payload that is not a JSON object leaves req empty.
		_ = json.Unmarshal(payload, &req)
	}
	if req == nil {
		req = map[string]any{}
	}
	var out []Target
	for i, res := range obj.Spec.Resources {
		gvk, _ := ResourceGVK(res)
		local, _ := compileFilter(res.Filter)
		ns := res.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		var objs []unstructured.Unstructured
		if res.Name == "*" {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels(res.MatchLabels)); err != nil {
				return nil, fmt.Errorf("spec.resources[%d]: list %s in %s: %w", i, gvk.Kind, ns, err)
			}
			objs = list.Items
		} else {
			u := unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: res.Name}, &u); err != nil {
				return nil, fmt.Errorf("spec.resources[%d]: get %s %s/%s: %w", i, gvk.Kind, ns, res.Name, err)
			}
			objs = []unstructured.Unstructured{u}
		}
		for _, u := range objs {
			ok, err := passes(global, local, u.Object, req)
			if err != nil {
				return nil, fmt.Errorf("spec.resources[%d]: %s %s/%s: %w", i, gvk.Kind, u.GetNamespace(), u.GetName(), err)
			}
			if ok {
				out = append(out, Target{GVK: gvk, Namespace: u.GetNamespace(), Name: u.GetName()})
			}
		}
	}
	return out, nil
}

func passes(global, local cel.Program, res, req map[string]any) (bool, error) {
	ok, err := evalFilter(global, res, req)
	if err != nil {
		return false, fmt.Errorf("spec.resourceFilter: %w", err)
	}
	if !ok {
		return false, nil
	}
	ok, err = evalFilter(local, res, req)
	if err != nil {
		return false, fmt.Errorf("filter: %w", err)
	}
	return ok, nil
}

// requestReconcile sets the reconcile request annotation on each target,
// as `gotk reconcile` does, so that its controller reconciles it at once.
func requestReconcile(ctx context.Context, c client.Client, targets []Target, now time.Time) error {
	value := now.UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{meta.ReconcileRequestAnnotation: value}},
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range targets {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(t.GVK)
		u.SetNamespace(t.Namespace)
		u.SetName(t.Name)
		if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
			errs = append(errs, fmt.Errorf("annotate %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}
