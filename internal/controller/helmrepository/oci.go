package helmrepository

import (
	"context"
	"errors"
	"fmt"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileOCI checks that the registry answers with the credentials of
// the spec. An OCI repository has no index and so no artifact: one left
// from when the object had type default is removed.
func (r *Reconciler) reconcileOCI(ctx context.Context, s *scope) error {
	obj := s.obj
	if obj.Status.Artifact != nil {
		ref := artifact.RefFor(sourcev1.HelmRepositoryKind, obj)
		unlock := r.Storage.Lock(ref)
		err := r.Storage.Remove(ref)
		unlock()
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("remove the index artifact of a repository now of type oci: %w", err))
		}
		obj.Status.Artifact = nil
		obj.Status.URL = ""
	}
	runtime.Delete(obj, meta.ArtifactInStorageCondition)
	if err := helm.PingRegistry(ctx, obj.Spec.URL, s.opts); err != nil {
		reason := meta.FailedReason
		var regErr *helm.RegistryError
		if errors.As(err, &regErr) && regErr.IsAuth() {
			reason = meta.AuthenticationFailedReason
		}
		runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
		return runtime.Failed(reason, err)
	}
	return nil
}
