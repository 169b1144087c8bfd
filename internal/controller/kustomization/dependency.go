package kustomization

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

// reconcileDependencies waits until every Kustomization of spec.dependsOn
// is ready: its Ready condition is True for its current generation, or its
// readyExpr holds.
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
		if d.Kind == helmv2.HelmReleaseKind {
			if err := r.helmReleaseReady(ctx, obj, i, ns, d); err != nil {
				return err
			}
			continue
		}
		dep := &kustomizev1.Kustomization{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil {
			if apierrors.IsNotFound(err) {
				return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
					fmt.Errorf("dependency '%s/%s' not found", ns, d.Name))
			}
			return err
		}
		ready, err := dependencyReady(obj, dep, d.ReadyExpr)
		if err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.dependsOn[%d].readyExpr: %s", i, err)
		}
		if !ready {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
				fmt.Errorf("dependency '%s/%s' is not ready", ns, d.Name))
		}
		// A readyExpr replaces every built-in check, this one too.
		if d.ReadyExpr == "" && sameSource(obj, dep) {
			if rev := r.sourceRevision(ctx, obj); rev != "" && dep.Status.LastAppliedRevision != rev {
				return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
					fmt.Errorf("dependency '%s/%s' has not applied revision %s of the source they share yet", ns, d.Name, rev))
			}
		}
	}
	return nil
}

// helmReleaseReady waits for a HelmRelease of dependsOn: Ready for its
// generation, or its readyExpr true.
func (r *Reconciler) helmReleaseReady(ctx context.Context, obj *kustomizev1.Kustomization, i int, ns string, d meta.DependencyReference) error {
	dep := &helmv2.HelmRelease{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil {
		if apierrors.IsNotFound(err) {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
				fmt.Errorf("dependency HelmRelease '%s/%s' not found", ns, d.Name))
		}
		return err
	}
	ready := runtime.IsReady(dep) && dep.Status.ObservedGeneration == dep.Generation
	if d.ReadyExpr != "" {
		var err error
		if ready, err = readyexpr.Eval(obj, dep, d.ReadyExpr); err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.dependsOn[%d].readyExpr: %s", i, err)
		}
	}
	if !ready {
		return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
			fmt.Errorf("dependency HelmRelease '%s/%s' is not ready", ns, d.Name))
	}
	return nil
}

// sameSource reports whether two Kustomizations read the same source; a
// dependent then waits until its dependency has applied the source's
// current revision, so that one commit is applied in dependency order.
func sameSource(a, b *kustomizev1.Kustomization) bool {
	return a.Spec.SourceRef.Kind == b.Spec.SourceRef.Kind && a.Spec.SourceRef.Name == b.Spec.SourceRef.Name &&
		a.GetSourceNamespace() == b.GetSourceNamespace()
}

// sourceRevision returns the revision of the artifact of obj's source, or
// "" when there is none yet (reconcileSource then says why).
func (r *Reconciler) sourceRevision(ctx context.Context, obj *kustomizev1.Kustomization) string {
	src, err := newSource(obj.Spec.SourceRef.Kind)
	if err != nil {
		return ""
	}
	if err := r.Get(ctx, client.ObjectKey{Namespace: obj.GetSourceNamespace(), Name: obj.Spec.SourceRef.Name}, src); err != nil {
		return ""
	}
	if art := src.GetArtifact(); art != nil {
		return art.Revision
	}
	return ""
}

// dependencyReady evaluates readyExpr over self and dep, or checks dep's
// Ready condition when there is no expression.
func dependencyReady(self, dep *kustomizev1.Kustomization, expr string) (bool, error) {
	if expr == "" {
		return runtime.IsReady(dep) && dep.Status.ObservedGeneration == dep.Generation, nil
	}
	return readyexpr.Eval(self, dep, expr)
}
