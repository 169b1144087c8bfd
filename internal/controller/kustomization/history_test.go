package kustomization

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// status.history records each reconcile that built objects, one snapshot
// per set of built objects and outcome, newest first, with the source
// revision; reconciles of the same objects add to one snapshot's count.
func TestHistoryRecordsReconciles(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/cm.yaml": configMap(ns, "a", "one")})
	key := newKustomization(t, ns, "app", "./deploy", nil)
	first := r.head()
	ks := appliedAt(t, key, first)
	if len(ks.Status.History) != 1 {
		t.Fatalf("history after one reconcile: %+v", ks.Status.History)
	}
	h := ks.Status.History[0]
	if h.LastReconciledStatus != meta.ReconciliationSucceededReason || h.Metadata["revision"] != first ||
		h.TotalReconciliations != 1 || len(h.Digest) != len("sha256:")+64 || h.Digest[:7] != "sha256:" {
		t.Errorf("first snapshot %+v", h)
	}

	requestReconcile(t, key)
	ks = waitKs(t, key, "reconciled again", func(k *kustomizev1.Kustomization) bool {
		return len(k.Status.History) > 0 && k.Status.History[0].TotalReconciliations == 2
	})
	if len(ks.Status.History) != 1 || ks.Status.History[0].Digest != h.Digest {
		t.Errorf("the same objects made another snapshot: %+v", ks.Status.History)
	}

	second := r.push(map[string]string{"deploy/cm.yaml": configMap(ns, "a", "two")})
	ks = appliedAt(t, key, second)
	if len(ks.Status.History) != 2 {
		t.Fatalf("history after a new revision: %+v", ks.Status.History)
	}
	if latest := ks.Status.History[0]; latest.Digest == h.Digest || latest.Metadata["revision"] != second || latest.TotalReconciliations != 1 {
		t.Errorf("newest snapshot %+v", latest)
	}
	if ks.Status.History[1].Digest != h.Digest {
		t.Errorf("the first snapshot is not second: %+v", ks.Status.History)
	}
}

// status.lastAppliedOriginRevision, and the history, carry the revision
// the artifact was made from, as its metadata records it
// (org.opencontainers.image.revision), as an OCI artifact's does. The
// source here is a Bucket, which no controller of the test reconciles,
// holding the artifact of a GitRepository with that metadata added.
func TestLastAppliedOriginRevision(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	r := newRepo(t, ns, map[string]string{"deploy/cm.yaml": configMap(ns, "origin", "x")})
	git := &sourcev1.GitRepository{}
	eventually(t, "the GitRepository's artifact", func() bool {
		return env.Client.Get(ctx, r.key, git) == nil && git.Status.Artifact != nil
	})
	bucket := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: "origin", Namespace: ns},
		Spec: sourcev1.BucketSpec{BucketName: "unused", Endpoint: "unused.invalid",
			Interval: metav1.Duration{Duration: time.Hour}},
	}
	create(t, bucket)
	art := git.Status.Artifact.DeepCopy()
	art.Metadata = map[string]string{meta.OriginRevisionAnnotation: "v1.2.3@sha1:0123456789abcdef"}
	bucket.Status.Artifact = art
	if err := env.Client.Status().Update(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.BucketKind, Name: "origin"}
	})
	ks := appliedAt(t, key, art.Revision)
	if ks.Status.LastAppliedOriginRevision != "v1.2.3@sha1:0123456789abcdef" {
		t.Errorf("lastAppliedOriginRevision %q", ks.Status.LastAppliedOriginRevision)
	}
	if len(ks.Status.History) == 0 || ks.Status.History[0].Metadata["originRevision"] != "v1.2.3@sha1:0123456789abcdef" {
		t.Errorf("history %+v", ks.Status.History)
	}
	if !runtime.IsReady(ks) {
		t.Errorf("not ready: %+v", ks.Status.Conditions)
	}
}
