// Package ocirepository reconciles OCIRepository objects: it resolves the
// ref to a manifest (or notices that nothing moved), downloads the
// selected layer within a size cap, and stores it as an artifact, either
// unpacked safely and packed again without the ignored files (extract) or
// as it is (copy).
package ocirepository

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/git"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/oci"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles OCIRepository objects.
type Reconciler struct {
	client.Client
	Storage  *artifact.Storage
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	// Limits cap the layer (MaxSize bytes, compressed and unpacked) and
	// the files it unpacks to; zero fields take artifact.DefaultMaxSize
	// and artifact.DefaultMaxFiles.
	Limits artifact.Limits
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj     *sourcev1.OCIRepository
	patcher *runtime.Patcher
	opts    oci.Options
	client  *oci.Client
	// tag and desc are what the ref resolved to.
	tag  string
	desc ocispec.Descriptor
	// revision is <tag>@<digest>, or the digest of a digest ref.
	revision string
	upToDate bool
	// tmp holds the download and the unpacked layer.
	tmp string
}

// Reconcile brings one OCIRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &sourcev1.OCIRepository{}
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
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, sourcev1.OCIRepositoryKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}
	s := &scope{obj: obj, patcher: patcher}
	defer func() {
		summarize(obj, retErr)
		r.announce(obj, retErr, before.Ready, before.Message, prevRevision)
		result, retErr = runtime.Ending{Kind: sourcev1.OCIRepositoryKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
		if s.tmp != "" {
			_ = os.RemoveAll(s.tmp)
		}
	}()

	return ctrl.Result{}, runtime.Phases(ctx, obj.GetTimeout(), s,
		r.reconcileStorage,
		r.reconcileSpec,
		r.reconcileCredentials,
		r.reconcileSource,
		r.reconcileArtifact,
	)
}

func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.OCIRepositoryKind, s.obj, s.obj.Status.Artifact)
}

// reconcileSpec refuses, as stalled, what no retry can fix: a URL that is
// not oci://, a cloud provider, signature verification, an unknown layer
// operation.
func (r *Reconciler) reconcileSpec(_ context.Context, s *scope) error {
	obj := s.obj
	if _, tag, dgst, err := oci.SplitURL(obj.Spec.URL); err != nil {
		return runtime.Stallingf(sourcev1.URLInvalidReason, "spec.url: %s", err)
	} else if tag != "" || dgst != "" {
		return runtime.Stallingf(sourcev1.URLInvalidReason,
			"spec.url %q names a tag or digest: put it in spec.ref.tag or spec.ref.digest instead", obj.Spec.URL)
	}
	if p := obj.Spec.Provider; p != "" && p != sourcev1.GenericOCIProvider {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.provider %q is not supported: gotk authenticates to registries with spec.secretRef only (provider generic)", p)
	}
	if obj.Spec.ServiceAccountName != "" {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.serviceAccountName is not supported: put the registry credentials in a Secret named by spec.secretRef")
	}
	if v := obj.Spec.Verify; v != nil {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.verify (provider %q) is not supported: gotk does not verify cosign or notation signatures; remove spec.verify to use the artifact unverified", v.Provider)
	}
	switch op := obj.GetLayerOperation(); op {
	case sourcev1.OCILayerExtract, sourcev1.OCILayerCopy:
	default:
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.layerSelector.operation %q: want extract or copy", op)
	}
	return nil
}

// reconcileCredentials reads the Secrets of spec.secretRef (docker config
// JSON), spec.certSecretRef and spec.proxySecretRef.
func (r *Reconciler) reconcileCredentials(ctx context.Context, s *scope) error {
	obj := s.obj
	s.opts = oci.Options{Insecure: obj.Spec.Insecure, UserAgent: "gotk-source-controller"}
	repoName, _, _, _ := oci.SplitURL(obj.Spec.URL)
	host, _, _ := cutHost(repoName)
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		cfg, ok := data[corev1.DockerConfigJsonKey]
		if !ok {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.secretRef) has no key '%s': create it with `kubectl create secret docker-registry`",
				obj.Namespace, ref.Name, corev1.DockerConfigJsonKey))
		}
		if s.opts.Username, s.opts.Password, err = helm.DockerConfigAuth(cfg, host); err != nil {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.secretRef): %w", obj.Namespace, ref.Name, err))
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		if s.opts.TLS, err = helm.TLSFromSecret(data); err != nil {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.certSecretRef): %w", obj.Namespace, ref.Name, err))
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		p, err := git.ProxyFromSecret(data)
		if err != nil {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.proxySecretRef): %w", obj.Namespace, ref.Name, err))
		}
		u, _ := url.Parse(p.URL)
		if p.Username != "" {
			u.User = url.UserPassword(p.Username, p.Password)
		}
		s.opts.Proxy = u
	}
	c, err := oci.NewClient(obj.Spec.URL, s.opts)
	if err != nil {
		return runtime.Stallingf(sourcev1.URLInvalidReason, "spec.url: %s", err)
	}
	s.client = c
	return nil
}

// cutHost splits host/path.
func cutHost(repo string) (host, path string, ok bool) {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i], repo[i+1:], true
		}
	}
	return repo, "", false
}

// failAuth marks a credentials problem: retried, since editing a Secret
// does not reconcile the object.
func failAuth(obj *sourcev1.OCIRepository, err error) error {
	runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
	return runtime.Failed(meta.AuthenticationFailedReason, err)
}

func (r *Reconciler) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return secret.Data, nil
}

// reconcileSource resolves the ref, and unless the stored artifact already
// holds that manifest as the spec asks, downloads the layer.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	ref := oci.Reference{}
	if rf := obj.Spec.Reference; rf != nil {
		ref = oci.Reference{Tag: rf.Tag, SemVer: rf.SemVer, SemverFilter: rf.SemverFilter, Digest: rf.Digest}
	}
	tag, desc, err := s.client.Resolve(ctx, ref)
	if err != nil {
		return pullFailed(obj, err)
	}
	s.tag, s.desc = tag, desc
	s.revision = oci.Revision(tag, desc.Digest)
	if r.upToDate(obj, s.revision) {
		s.upToDate = true
		runtime.Delete(obj, meta.FetchFailedCondition)
		return nil
	}
	if art := obj.Status.Artifact; art != nil && art.Revision != s.revision {
		msg := fmt.Sprintf("new upstream revision '%s'", s.revision)
		runtime.MarkTrue(obj, meta.ArtifactOutdatedCondition, meta.NewRevisionReason, "%s", msg)
		runtime.MarkReconciling(obj, meta.ProgressingReason, "building artifact: %s", msg)
		if err := s.patcher.Patch(ctx, obj); err != nil {
			return runtime.Failed(meta.FailedReason, fmt.Errorf("record the new revision: %w", err))
		}
	}
	return nil
}

// pullFailed classifies a registry error: credentials are retried with
// AuthenticationFailed, a bad ref in the spec stalls, the rest is retried.
func pullFailed(obj *sourcev1.OCIRepository, err error) error {
	var e *oci.Error
	if !errors.As(err, &e) {
		// Only the spec's SemVer range, filter or digest fail this way.
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.InvalidSpecReason, "spec.ref: %s", err)
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.ref: %s", err)
	}
	if e.IsAuth() {
		err = fmt.Errorf("%w (spec.secretRef)", err)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
		return runtime.Failed(meta.AuthenticationFailedReason, err)
	}
	runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.OCIPullFailedReason, "%s", err)
	return runtime.Failed(sourcev1.OCIPullFailedReason, err)
}

// upToDate reports whether the stored artifact was made from revision
// with the spec as it is now.
func (r *Reconciler) upToDate(obj *sourcev1.OCIRepository, revision string) bool {
	art := obj.Status.Artifact
	if art == nil || art.Revision != revision || !r.Storage.Exists(*art) {
		return false
	}
	return equalJSON(obj.Status.ObservedIgnore, obj.Spec.Ignore) &&
		equalJSON(observedSelector(obj.Status.ObservedLayerSelector), observedSelector(obj.Spec.LayerSelector))
}

// observedSelector treats no selector as the default one.
func observedSelector(sel *sourcev1.OCILayerSelector) sourcev1.OCILayerSelector {
	out := sourcev1.OCILayerSelector{Operation: sourcev1.OCILayerExtract}
	if sel != nil {
		out.MediaType = sel.MediaType
		if sel.Operation != "" {
			out.Operation = sel.Operation
		}
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// limits returns r.Limits with the defaults for unset fields.
func (r *Reconciler) limits() artifact.Limits {
	l := r.Limits
	if l.MaxSize <= 0 {
		l.MaxSize = artifact.DefaultMaxSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = artifact.DefaultMaxFiles
	}
	return l
}

// reconcileArtifact downloads the selected layer and stores it.
func (r *Reconciler) reconcileArtifact(ctx context.Context, s *scope) error {
	obj := s.obj
	if s.upToDate {
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason,
			"stored artifact for digest '%s'", obj.Status.Artifact.Revision)
		return nil
	}
	manifest, err := s.client.Manifest(ctx, s.desc)
	if err != nil {
		return pullFailed(obj, err)
	}
	layer, err := oci.SelectLayer(manifest, obj.GetLayerMediaType())
	if err != nil {
		err = fmt.Errorf("revision %s: %w", s.revision, err)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.OCILayerOperationFailedReason, "%s", err)
		return runtime.Failed(sourcev1.OCILayerOperationFailedReason, err)
	}
	tmp, err := os.MkdirTemp("", "ocirepository-")
	if err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	s.tmp = tmp
	blob := filepath.Join(tmp, "layer")
	f, err := os.Create(blob)
	if err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	lim := r.limits()
	err = s.client.FetchLayer(ctx, layer, lim.MaxSize, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, oci.ErrTooLarge) {
			err = fmt.Errorf("revision %s: %w", s.revision, err)
			runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.OCILayerOperationFailedReason, "%s", err)
			return runtime.Failed(sourcev1.OCILayerOperationFailedReason, err)
		}
		return pullFailed(obj, err)
	}
	runtime.Delete(obj, meta.FetchFailedCondition)

	ref := artifact.RefFor(sourcev1.OCIRepositoryKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	hexDigest := s.desc.Digest.Encoded()
	var art meta.Artifact
	switch obj.GetLayerOperation() {
	case sourcev1.OCILayerCopy:
		art, err = r.Storage.NewArtifact(ref, s.revision, hexDigest+"-"+layer.Digest.Encoded()[:12]+".tgz")
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, err)
		}
		f, err := os.Open(blob)
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, err)
		}
		err = r.Storage.Copy(&art, f)
		f.Close()
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
		}
	default:
		dir := filepath.Join(tmp, "content")
		f, err := os.Open(blob)
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, err)
		}
		_, err = artifact.Extract(f, dir, lim)
		f.Close()
		if err != nil {
			// The temporary directory means nothing to the user.
			var unsafe *artifact.UnsafePathError
			if errors.As(err, &unsafe) {
				err = unsafe
			}
			err = fmt.Errorf("revision %s: layer %s: %w", s.revision, layer.Digest, err)
			runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.OCILayerOperationFailedReason, "%s", err)
			return runtime.Failed(sourcev1.OCILayerOperationFailedReason, err)
		}
		filter, err := artifact.IgnoreFilter(dir, obj.Spec.Ignore)
		if err != nil {
			return runtime.Stallingf(meta.InvalidSpecReason, "spec.ignore: %s", err)
		}
		art, err = r.Storage.NewArtifact(ref, s.revision, hexDigest+"-"+contentID(obj)+".tar.gz")
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, err)
		}
		if err := r.Storage.ArchiveDir(&art, dir, filter); err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
		}
	}
	if len(manifest.Annotations) > 0 {
		art.Metadata = map[string]string{}
		for k, v := range manifest.Annotations {
			art.Metadata[k] = v
		}
	}
	obj.Status.Artifact = &art
	obj.Status.URL = art.URL
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	obj.Status.ObservedLayerSelector = obj.Spec.LayerSelector
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact for digest '%s'", art.Revision)
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctrl.Log.WithValues("ocirepository", obj.Namespace+"/"+obj.Name).Info("garbage collection failed", "error", err.Error())
	}
	return nil
}

// contentID names an extracted artifact after the spec fields that shape
// it, so that a changed ignore rule never overwrites a file a consumer may
// be downloading.
func contentID(obj *sourcev1.OCIRepository) string {
	data, _ := json.Marshal([]any{obj.Spec.Ignore, observedSelector(obj.Spec.LayerSelector)})
	return fmt.Sprintf("%x", sha256.Sum256(data))[:12]
}
