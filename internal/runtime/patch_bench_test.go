package runtime

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

// BenchmarkPatcherChanges measures what a reconcile's status patch costs
// the controller before any request: the snapshot, then the patches
// computed after a reconcile that changed only the status (the common
// case: conditions and the handled request), and after one that changed
// nothing.
func BenchmarkPatcherChanges(b *testing.B) {
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{
			Name: "app-0042", Namespace: "bench", Generation: 3, ResourceVersion: "123456",
			Labels:     map[string]string{"team": "shop"},
			Finalizers: []string{meta.Finalizer},
		},
		Spec: sourcev1.GitRepositorySpec{
			URL: "https://git.example.com/shop/app-0042.git", Interval: metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	obj.Status.Artifact = &meta.Artifact{
		Path: "gitrepository/bench/app-0042/abc.tar.gz", URL: "http://storage/abc.tar.gz",
		Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", Digest: "sha256:0123", LastUpdateTime: metav1.Now(),
	}
	MarkReady(obj, meta.SucceededReason, "stored artifact for revision main@sha1:0123456789abcdef")
	obj.Status.ObservedGeneration = obj.Generation
	for _, tc := range []struct {
		name   string
		change func(*sourcev1.GitRepository, int)
	}{
		{"status", func(o *sourcev1.GitRepository, i int) {
			o.SetLastHandledReconcileRequest(fmt.Sprint(i))
			o.Status.ObservedGeneration = o.Generation
			MarkReconciling(o, meta.ProgressingReason, "reconciliation in progress")
		}},
		{"nothing", func(o *sourcev1.GitRepository, _ int) { o.Status.ObservedGeneration = o.Generation }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				o := obj.DeepCopy()
				p, err := NewPatcher(o, nil)
				if err != nil {
					b.Fatal(err)
				}
				tc.change(o, i)
				_, before, desired, err := p.changes(o, &patchOptions{observedGeneration: true})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := mergePatch(statusDoc(before), statusDoc(desired)); err != nil {
					b.Fatal(err)
				}
				if _, err := NewPatcher(o, nil); err != nil { // the snapshot after the patch
					b.Fatal(err)
				}
			}
		})
	}
}
