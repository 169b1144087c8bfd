package helmrelease

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/readyexpr"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileDependencies waits until every object of spec.dependsOn (a
// HelmRelease, or a Kustomization with kind: Kustomization) is Ready for
// its current generation, or its readyExpr holds.
func (r *Reconciler) reconcileDependencies(ctx context.Context, s *scope) error {
	obj := s.obj
	for i, d := range obj.Spec.DependsOn {
		ns := d.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		if r.Options.NoCrossNamespaceRefs && ns != obj.Namespace {
			return runtime.Stallingf(meta.AccessDeniedReason,
				"spec.dependsOn[%d]: '%s/%s' is in another namespace, which --no-cross-namespace-refs forbids", i, ns, d.Name)
		}
		kind := d.Kind
		if kind == "" {
			kind = helmv2.HelmReleaseKind
		}
		var dep runtime.Object
		var observed int64
		switch kind {
		case kustomizev1.KustomizationKind:
			dep = &kustomizev1.Kustomization{}
		default:
			dep = &helmv2.HelmRelease{}
		}
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil {
			if apierrors.IsNotFound(err) {
				return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
					fmt.Errorf("dependency %s '%s/%s' not found", kind, ns, d.Name))
			}
			return err
		}
		switch o := dep.(type) {
		case *kustomizev1.Kustomization:
			observed = o.Status.ObservedGeneration
		case *helmv2.HelmRelease:
			observed = o.Status.ObservedGeneration
		}
		ready := runtime.IsReady(dep) && observed == dep.GetGeneration()
		if d.ReadyExpr != "" {
			var err error
			if ready, err = readyexpr.Eval(obj, dep, d.ReadyExpr); err != nil {
				return runtime.Stallingf(meta.InvalidSpecReason, "spec.dependsOn[%d].readyExpr: %s", i, err)
			}
		}
		if !ready {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
				fmt.Errorf("dependency %s '%s/%s' is not ready", kind, ns, d.Name))
		}
	}
	return nil
}
