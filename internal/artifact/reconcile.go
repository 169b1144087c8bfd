package artifact

import (
	"fmt"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// ReconcileStorage is the first step of every source reconcile: it marks
// ArtifactInStorage False when the artifact in obj's status is missing from
// storage (so that it is made again), and otherwise deletes the object's
// older artifacts.
func (s *Storage) ReconcileStorage(kind string, obj runtime.Object, art *meta.Artifact) error {
	if art == nil || !s.Exists(*art) {
		runtime.MarkFalse(obj, meta.ArtifactInStorageCondition, meta.FailedReason, "no artifact in storage")
		return nil
	}
	ref := RefFor(kind, obj)
	unlock := s.Lock(ref)
	defer unlock()
	if _, err := s.GarbageCollect(ref, *art); err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("garbage collect old artifacts: %w", err))
	}
	return nil
}
