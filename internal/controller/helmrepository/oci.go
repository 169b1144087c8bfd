package helmrepository

import (
	"context"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileOCI checks an OCI repository. It has no index and no artifact.
func (r *Reconciler) reconcileOCI(_ context.Context, s *scope) error {
	// Not implemented yet: see issue 12, item 1 (type: oci).
	return runtime.Stallingf(meta.InvalidSpecReason, "spec.type oci is not supported yet")
}
