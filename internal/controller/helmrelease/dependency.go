package helmrelease

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileDependencies waits until every HelmRelease of spec.dependsOn
// is Ready for its current generation.
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
		dep := &helmv2.HelmRelease{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil {
			if apierrors.IsNotFound(err) {
				return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
					fmt.Errorf("dependency HelmRelease '%s/%s' not found", ns, d.Name))
			}
			return err
		}
		if !runtime.IsReady(dep) || dep.Status.ObservedGeneration != dep.Generation {
			return runtime.Waiting(meta.DependencyNotReadyReason, r.Options.RequeueDependency,
				fmt.Errorf("dependency HelmRelease '%s/%s' is not ready", ns, d.Name))
		}
	}
	return nil
}
