// Package helmrepository reconciles HelmRepository objects. For an HTTP(S)
// repository it downloads index.yaml with the credentials of the spec,
// loads it with the Helm SDK, and stores it as an artifact whose revision
// is the sha256 of the loaded index; an index that did not change stores
// nothing. An OCI repository has no index and no artifact.
package helmrepository

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles HelmRepository objects.
type Reconciler struct {
	client.Client
	Storage  *artifact.Storage
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	// IndexMaxSize caps the download of index.yaml
	// (--helm-index-max-size); zero takes helm.DefaultIndexMaxSize.
	IndexMaxSize int64
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj  *sourcev1.HelmRepository
	opts helm.Options
	// index is the index downloaded now.
	index *helm.FetchedIndex
	// upToDate means the stored artifact already holds this index.
	upToDate bool
}

// Reconcile brings one HelmRepository up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &sourcev1.HelmRepository{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	prevRevision := ""
	if obj.Status.Artifact != nil {
		prevRevision = obj.Status.Artifact.Revision
	}
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, sourcev1.HelmRepositoryKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}

	s := &scope{obj: obj}
	defer func() {
		r.summarize(s, retErr)
		r.announce(s, retErr, before.Ready, before.Message, prevRevision)
		result, retErr = runtime.Ending{Kind: sourcev1.HelmRepositoryKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
		s.index.Remove()
	}()

	phases := []func(context.Context, *scope) error{
		r.reconcileSpec,
		r.reconcileCredentials,
	}
	if obj.IsOCI() {
		phases = append(phases, r.reconcileOCI)
	} else {
		phases = append(phases, r.reconcileStorage, r.reconcileSource, r.reconcileArtifact)
	}
	return ctrl.Result{}, runtime.Phases(ctx, obj.GetTimeout(), s, phases...)
}

// reconcileSpec refuses what no retry can fix: an unsupported provider, a
// URL whose scheme does not fit the type.
func (r *Reconciler) reconcileSpec(_ context.Context, s *scope) error {
	obj := s.obj
	if p := obj.Spec.Provider; p != "" && p != "generic" {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.provider %q is not supported yet: use spec.secretRef with the registry's credentials instead", p)
	}
	if obj.IsOCI() {
		if !strings.HasPrefix(obj.Spec.URL, "oci://") {
			return runtime.Stallingf(sourcev1.URLInvalidReason, "spec.url %q must start with oci:// when spec.type is oci", obj.Spec.URL)
		}
		if _, err := helm.RegistryHost(obj.Spec.URL); err != nil {
			return runtime.Stalling(sourcev1.URLInvalidReason, err)
		}
		return nil
	}
	if _, err := helm.IndexURL(obj.Spec.URL); err != nil {
		if strings.HasPrefix(obj.Spec.URL, "oci://") {
			err = fmt.Errorf("spec.url %q is an OCI registry: set spec.type to oci", obj.Spec.URL)
		}
		return runtime.Stalling(sourcev1.URLInvalidReason, err)
	}
	return nil
}

// reconcileCredentials reads spec.secretRef and spec.certSecretRef.
func (r *Reconciler) reconcileCredentials(ctx context.Context, s *scope) error {
	opts, err := helm.RepositoryOptions(ctx, r.Client, s.obj)
	if err != nil {
		return authFailed(s.obj, err)
	}
	s.opts = opts
	return nil
}

// authFailed marks FetchFailed and retries: a Secret is fixed by editing
// it, which does not reconcile the object.
func authFailed(obj *sourcev1.HelmRepository, err error) error {
	runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
	return runtime.Failed(meta.AuthenticationFailedReason, err)
}

// reconcileStorage notices an artifact that vanished from storage and
// trims old artifacts.
func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.HelmRepositoryKind, s.obj, s.obj.Status.Artifact)
}

// reconcileSource downloads and loads the index.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	max := r.IndexMaxSize
	if max <= 0 {
		max = helm.DefaultIndexMaxSize
	}
	idx, err := helm.FetchIndex(ctx, obj.Spec.URL, s.opts, max, "")
	if err != nil {
		reason := sourcev1.IndexationFailedReason
		var httpErr *helm.HTTPError
		if errors.As(err, &httpErr) && httpErr.IsAuth() {
			reason = meta.AuthenticationFailedReason
		}
		runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
		return runtime.Failed(reason, err)
	}
	s.index = idx
	runtime.Delete(obj, meta.FetchFailedCondition)
	art := obj.Status.Artifact
	s.upToDate = art != nil && art.Revision == idx.Revision && r.Storage.Exists(*art)
	return nil
}

// reconcileArtifact stores the loaded index, unless the stored artifact
// already holds it.
func (r *Reconciler) reconcileArtifact(_ context.Context, s *scope) error {
	obj := s.obj
	if s.upToDate {
		obj.Status.URL = obj.Status.Artifact.URL
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason,
			"stored artifact: revision '%s'", obj.Status.Artifact.Revision)
		return nil
	}
	ref := artifact.RefFor(sourcev1.HelmRepositoryKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	hexPart := strings.TrimPrefix(s.index.Revision, "sha256:")
	art, err := r.Storage.NewArtifact(ref, s.index.Revision, "index-"+hexPart+".yaml")
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	f, err := os.Open(s.index.File)
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	err = r.Storage.Copy(&art, f)
	f.Close()
	if err != nil {
		runtime.MarkTrue(obj, meta.StorageOperationFailedCondition, meta.StorageOperationFailedReason, "%s", err)
		return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
	}
	runtime.Delete(obj, meta.StorageOperationFailedCondition)
	obj.Status.Artifact = &art
	obj.Status.URL = art.URL
	runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact: revision '%s'", art.Revision)
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctrl.Log.WithValues("helmrepository", obj.Namespace+"/"+obj.Name).Info("garbage collection failed", "error", err.Error())
	}
	return nil
}
