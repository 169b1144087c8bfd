package runtime

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

func newGitRepository(t *testing.T, ns string) *sourcev1.GitRepository {
	t.Helper()
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:      "https://example.com/podinfo.git",
			Interval: metav1.Duration{Duration: time.Minute},
		},
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestPatcher(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(*sourcev1.GitRepository)
		opts   []PatchOption
		check  func(*testing.T, *sourcev1.GitRepository)
	}{
		{
			name: "finalizer and status in one call",
			change: func(o *sourcev1.GitRepository) {
				controllerutil.AddFinalizer(o, meta.Finalizer)
				MarkReady(o, meta.SucceededReason, "stored artifact for revision main@sha1:abc")
			},
			check: func(t *testing.T, o *sourcev1.GitRepository) {
				if !controllerutil.ContainsFinalizer(o, meta.Finalizer) {
					t.Error("finalizer not written")
				}
				if !IsReady(o) || Message(o, meta.ReadyCondition) != "stored artifact for revision main@sha1:abc" {
					t.Errorf("Ready not written: %+v", o.Status.Conditions)
				}
				if o.Status.ObservedGeneration != -1 {
					t.Errorf("observedGeneration = %d without WithObservedGeneration, want the default -1", o.Status.ObservedGeneration)
				}
			},
		},
		{
			name:   "observed generation",
			change: func(o *sourcev1.GitRepository) { MarkReconciling(o, meta.ProgressingReason, "building") },
			opts:   []PatchOption{WithObservedGeneration()},
			check: func(t *testing.T, o *sourcev1.GitRepository) {
				if o.Status.ObservedGeneration != o.Generation {
					t.Errorf("observedGeneration = %d, want %d", o.Status.ObservedGeneration, o.Generation)
				}
			},
		},
		{
			name: "artifact and request bookkeeping",
			change: func(o *sourcev1.GitRepository) {
				o.Status.Artifact = &meta.Artifact{
					Path: "gitrepository/ns/podinfo/abc.tar.gz", URL: "http://storage/abc.tar.gz",
					Revision: "main@sha1:abc", Digest: "sha256:0123", LastUpdateTime: metav1.Now(),
				}
				o.SetLastHandledReconcileRequest("now")
			},
			check: func(t *testing.T, o *sourcev1.GitRepository) {
				if o.Status.Artifact == nil || o.Status.Artifact.Revision != "main@sha1:abc" {
					t.Errorf("artifact = %+v", o.Status.Artifact)
				}
				if o.GetLastHandledReconcileRequest() != "now" {
					t.Errorf("lastHandledReconcileAt = %q", o.GetLastHandledReconcileRequest())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := newGitRepository(t, env.Namespace(t))
			p, err := NewPatcher(obj, env.Client)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(obj)
			if err := p.Patch(ctx, obj, tt.opts...); err != nil {
				t.Fatal(err)
			}
			fresh := &sourcev1.GitRepository{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
				t.Fatal(err)
			}
			tt.check(t, fresh)
		})
	}
}

// A condition that another writer set after the reconcile began survives a
// patch that owns only its own condition types.
func TestPatcherKeepsConditionsItDoesNotOwn(t *testing.T) {
	ctx := context.Background()
	obj := newGitRepository(t, env.Namespace(t))
	p, err := NewPatcher(obj, env.Client)
	if err != nil {
		t.Fatal(err)
	}

	other := obj.DeepCopy()
	MarkTrue(other, "ExternalCheck", "Passed", "checked by another controller")
	if err := env.Client.Status().Update(ctx, other); err != nil {
		t.Fatal(err)
	}

	MarkReady(obj, meta.SucceededReason, "done")
	if err := p.Patch(ctx, obj, WithOwnedConditions(meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition)); err != nil {
		t.Fatal(err)
	}
	fresh := &sourcev1.GitRepository{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
		t.Fatal(err)
	}
	if !IsReady(fresh) {
		t.Errorf("Ready not written: %+v", fresh.Status.Conditions)
	}
	if !IsTrue(fresh, "ExternalCheck") {
		t.Errorf("the other writer's condition was lost: %+v", fresh.Status.Conditions)
	}

	// The patcher moved on: a second patch sends only the new change.
	MarkFalse(obj, meta.ReadyCondition, meta.FailedReason, "broken")
	if err := p.Patch(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
		t.Fatal(err)
	}
	if IsReady(fresh) || !IsTrue(fresh, "ExternalCheck") {
		t.Errorf("second patch: %+v", fresh.Status.Conditions)
	}
}
