// Package kustomization reconciles Kustomization objects: it waits for its
// dependencies, fetches the source artifact, builds it with kustomize,
// substitutes variables, applies the result with server-side apply in
// stages, prunes what left Git, and checks the health of what it applied.
package kustomization

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/decrypt"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/kustomize"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// Reconciler reconciles Kustomization objects.
type Reconciler struct {
	client.Client
	// Clients builds the client that applies for one Kustomization:
	// impersonating its service account, or for a remote cluster.
	Clients *runtime.ClientFactory
	// APIReader reads the ConfigMaps and Secrets of substituteFrom
	// directly, so that the controller does not cache every Secret.
	APIReader client.Reader
	Artifacts *artifact.Cache
	Recorder  *runtime.Recorder
	Metrics   *runtime.Metrics
	Options   runtime.Options

	// StrictSubstitutions makes a ${var} without a value and without a
	// default fail the build, instead of rendering as an empty string
	// (Flux's StrictPostBuildSubstitutions feature gate).
	StrictSubstitutions bool
	// ApplyConcurrency bounds the requests in flight within one apply,
	// prune or health check; zero means ssa.DefaultConcurrency.
	ApplyConcurrency int

	// caches remember, per Kustomization and target, what was last
	// applied, so that an unchanged object costs no request.
	caches sync.Map // types.NamespacedName -> *targetCache
	// builds remember the last build of each Kustomization.
	builds buildCache
	// selector is --watch-label-selector, parsed.
	selector labels.Selector
	// waits holds the cancel function of each health wait in progress
	// that holds a worker (a remote cluster's, see reconcileHealth), so
	// that a new source revision ends it at once.
	waits sync.Map // types.NamespacedName -> context.CancelFunc
	// Health watches the objects that Kustomizations wait for; their
	// waits hold no worker. SetupWithManager makes one when nil.
	Health *health.Watcher
}

type targetCache struct {
	target string
	cache  *ssa.Cache
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj      *kustomizev1.Kustomization
	source   sourcev1.ArtifactSource
	revision string
	// originRevision is the revision the artifact was made from, as its
	// metadata records it (org.opencontainers.image.revision).
	originRevision string
	// digest identifies the built objects, for status.history.
	digest  string
	handle  *artifact.Handle
	objects []*unstructured.Unstructured
	manager *ssa.Manager
	changes *ssa.ChangeSet
	// patcher writes the status; reconcileHealth uses it to show a long
	// wait while it lasts.
	patcher *runtime.Patcher
	// buildKey names the build inputs (artifact, spec, variables).
	buildKey string
	// redact removes the values that the build decrypted from a message.
	redact func(string) string
	// target names the cluster and identity the objects were applied to.
	target string
	// resumed is set when the objects of this revision and spec are
	// already applied and waited for: apply and prune are skipped.
	resumed bool
	// before is the status the reconcile started from.
	before kustomizev1.KustomizationStatus
	// waitStarted is when the health wait in progress began.
	waitStarted time.Time
}

// Reconcile applies one Kustomization.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &kustomizev1.Kustomization{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.selects(obj) {
		return ctrl.Result{}, nil // another shard's
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	patcher, began, proceed, err := runtime.Begin(ctx, r.Client, obj, kustomizev1.KustomizationKind, r.Metrics)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !proceed {
		if r.Health != nil {
			r.Health.Stop(req.NamespacedName)
		}
		return ctrl.Result{}, nil
	}

	s := &scope{obj: obj, patcher: patcher, before: *obj.Status.DeepCopy()}
	defer func() {
		if s.handle != nil {
			s.handle.Release()
		}
		if retErr != nil && !isHealthWait(retErr) && r.Health != nil {
			r.Health.Stop(req.NamespacedName)
		}
		if isHealthWait(retErr) {
			markWaiting(obj, retErr)
		} else {
			summarize(obj, retErr)
			recordHistory(obj, s, retErr, start)
		}
		keepTransitionTimes(began.Conditions, obj.Status.Conditions)
		markWaitStart(obj, s.waitStarted)
		r.announce(obj, s, retErr, began.Ready, began.Message)
		if err := patcher.Patch(ctx, obj, runtime.WithObservedGeneration()); err != nil {
			retErr = errors.Join(retErr, err)
		}
		r.Metrics.RecordObject(kustomizev1.KustomizationKind, obj, false)
		r.Metrics.ObserveDuration(kustomizev1.KustomizationKind, start)
		result, retErr = r.result(ctx, obj, retErr)
	}()

	for _, phase := range []func(context.Context, *scope) error{
		r.reconcileDependencies,
		r.reconcileSource,
		r.reconcileBuild,
		r.reconcileApply,
		r.reconcilePrune,
		r.reconcileHealth,
	} {
		if err := phase(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// result requeues after the interval on success and after retryInterval on
// a failure, as Flux users expect; only an error talking to the API server
// goes to controller-runtime's backoff.
func (r *Reconciler) result(ctx context.Context, obj *kustomizev1.Kustomization, err error) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: runtime.Jitter(obj.GetRequeueAfter())}, nil
	}
	var wait *runtime.WaitingError
	if errors.As(err, &wait) || runtime.IsStalling(err) {
		return runtime.Result(err, obj.GetRequeueAfter())
	}
	var generic *runtime.GenericError
	if errors.As(err, &generic) {
		ctrl.LoggerFrom(ctx).V(1).Info("reconciliation failed", "error", err.Error())
		return ctrl.Result{RequeueAfter: runtime.Jitter(obj.GetRetryInterval())}, nil
	}
	return ctrl.Result{}, err
}

// reconcileSource finds the source, and fetches its artifact.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	ref := obj.Spec.SourceRef
	ns := obj.GetSourceNamespace()
	if r.Options.NoCrossNamespaceRefs && ns != obj.Namespace {
		return runtime.Stallingf(meta.AccessDeniedReason,
			"spec.sourceRef: %s '%s/%s' is in another namespace, which --no-cross-namespace-refs forbids", ref.Kind, ns, ref.Name)
	}
	src, err := newSource(ref.Kind)
	if err != nil {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.sourceRef: %s", err)
	}
	if ref.Kind == sourcev1.ExternalArtifactKind && !r.Options.Feature(runtime.ExternalArtifact) {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.sourceRef: kind ExternalArtifact is turned off (--feature-gates=ExternalArtifact=false)")
	}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return runtime.Waiting(meta.ArtifactFailedReason, r.Options.RequeueDependency,
				fmt.Errorf("source %s '%s/%s' not found", ref.Kind, ns, ref.Name))
		}
		return err
	}
	s.source = src
	art := src.GetArtifact()
	if art == nil {
		// A source that failed makes this fail; one still at its first
		// reconcile makes this progress.
		reason := meta.ProgressingReason
		if o, ok := src.(runtime.Object); ok && runtime.IsFalse(o, meta.ReadyCondition) {
			reason = meta.ArtifactFailedReason
		}
		return runtime.Waiting(reason, r.Options.RequeueDependency,
			fmt.Errorf("source %s '%s/%s' is not ready: it has no artifact yet", ref.Kind, ns, ref.Name))
	}
	s.revision = art.Revision
	s.originRevision = art.OriginRevision()
	obj.Status.LastAttemptedRevision = art.Revision
	handle, err := r.Artifacts.Get(ctx, *art)
	if err != nil {
		return runtime.Failed(meta.ArtifactFailedReason, fmt.Errorf("fetch artifact of %s '%s/%s' (revision %s): %w", ref.Kind, ns, ref.Name, art.Revision, err))
	}
	s.handle = handle
	return nil
}

// newSource returns an empty object of a source kind a Kustomization may
// point at. Any kind with an artifact works the same from here on: an
// ExternalArtifact, which an ArtifactGenerator (or any other producer)
// writes, too.
func newSource(kind string) (sourcev1.ArtifactSource, error) {
	switch kind {
	case sourcev1.GitRepositoryKind:
		return &sourcev1.GitRepository{}, nil
	case sourcev1.OCIRepositoryKind:
		return &sourcev1.OCIRepository{}, nil
	case sourcev1.BucketKind:
		return &sourcev1.Bucket{}, nil
	case sourcev1.ExternalArtifactKind:
		return &sourcev1.ExternalArtifact{}, nil
	}
	return nil, fmt.Errorf("kind %q is not a source a Kustomization can use (GitRepository, OCIRepository, Bucket or ExternalArtifact)", kind)
}

// reconcileBuild builds the manifests and substitutes variables. Nothing is
// written to the cluster when it fails. A build whose inputs (artifact,
// spec, variables) are those of this Kustomization's last build is not run
// again: kustomize's cost grows with the square of the object count. A
// build that fetched anything remote is never reused.
func (r *Reconciler) reconcileBuild(ctx context.Context, s *scope) error {
	obj := s.obj
	var keys *decrypt.Keys
	if obj.Spec.Decryption != nil {
		var err error
		if keys, err = r.decryptionKeys(ctx, obj); err != nil {
			return err
		}
	}
	var vars map[string]string
	if pb := obj.Spec.PostBuild; pb != nil {
		var err error
		vars, err = kustomize.LoadVariables(ctx, kustomize.ClientVarSource{Reader: r.APIReader}, obj.Namespace, pb)
		if err != nil {
			return runtime.Failed(meta.BuildFailedReason, fmt.Errorf("post-build substitution: %w", err))
		}
	}
	opts := kustomize.BuildOptions{NoRemoteBases: r.Options.NoRemoteBases}
	keysDigest := ""
	if keys != nil {
		keysDigest = keys.Digest()
		opts.Decryption = keys
	}
	key, err := buildKey(s.handle.Digest, &obj.Spec, vars, keysDigest, r.Options.NoRemoteBases, r.StrictSubstitutions)
	if err != nil {
		return runtime.Failed(meta.BuildFailedReason, err)
	}
	s.buildKey = key
	nn := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	if b, ok := r.builds.get(nn, key); ok {
		s.objects, s.digest, s.redact = b.objs, b.digest, b.redact
		return nil
	}
	res, err := kustomize.BuildResult(ctx, s.handle.Dir, &obj.Spec, opts)
	if err != nil {
		var derr *decrypt.Error
		if errors.As(err, &derr) {
			err = fmt.Errorf("build of revision %s failed: %w", s.revision, err)
			if derr.Unsupported {
				// Only a new revision or spec can help.
				return runtime.Stalling(meta.BuildFailedReason, err)
			}
			return runtime.Failed(meta.BuildFailedReason, err)
		}
		// A file the build misses may be a link the source left out.
		note := artifact.ExplainMissing(err.Error(), s.source.GetArtifact())
		return runtime.Failed(meta.BuildFailedReason, fmt.Errorf("build of revision %s failed: %w%s", s.revision, err, note))
	}
	objs := res.Objects
	if pb := obj.Spec.PostBuild; pb != nil {
		opts := kustomize.SubstituteOptions{Strict: r.StrictSubstitutions}
		if err := kustomize.SubstituteWithOptions(objs, pb, vars, opts); err != nil {
			return runtime.Failed(meta.BuildFailedReason, fmt.Errorf("post-build substitution of revision %s: %s", s.revision, res.Redact(err.Error())))
		}
	}
	var secretKey []byte
	var redact func(string) string
	if res.Decrypted {
		secretKey, redact = []byte(keysDigest), res.Redact
	}
	digest, err := objectsDigest(objs, secretKey)
	if err != nil {
		return runtime.Failed(meta.BuildFailedReason, fmt.Errorf("digest of revision %s: %w", s.revision, err))
	}
	if res.Remote {
		// What a remote base holds may change without the artifact
		// changing: such a build is run every time.
		r.builds.forget(nn)
	} else {
		r.builds.put(nn, &build{key: key, objs: objs, digest: digest, redact: redact})
	}
	s.objects, s.digest, s.redact = objs, digest, redact
	return nil
}

// decryptionKeys reads the keys of spec.decryption: the age and OpenPGP
// keys of the Secret that secretRef names. Decrypting with a service
// account's cloud identity is refused.
func (r *Reconciler) decryptionKeys(ctx context.Context, obj *kustomizev1.Kustomization) (*decrypt.Keys, error) {
	d := obj.Spec.Decryption
	if d.Provider != kustomizev1.DecryptionProviderSOPS {
		return nil, runtime.Stallingf(meta.InvalidSpecReason, "spec.decryption.provider %q: only %q is supported", d.Provider, kustomizev1.DecryptionProviderSOPS)
	}
	if d.ServiceAccountName != "" {
		return nil, runtime.Stallingf(meta.InvalidSpecReason,
			"spec.decryption.serviceAccountName %q: decrypting with a service account's cloud identity (KMS) is not supported by gotk; "+
				"put age (*.agekey) or OpenPGP (*.asc) keys in the Secret of spec.decryption.secretRef instead", d.ServiceAccountName)
	}
	if d.SecretRef == nil {
		return decrypt.None("spec.decryption (no secretRef)"), nil
	}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: d.SecretRef.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, runtime.Failed(meta.BuildFailedReason,
				fmt.Errorf("spec.decryption.secretRef: Secret '%s/%s' not found", obj.Namespace, d.SecretRef.Name))
		}
		return nil, runtime.Failed(meta.BuildFailedReason, fmt.Errorf("spec.decryption.secretRef: read Secret '%s/%s': %w", obj.Namespace, d.SecretRef.Name, err))
	}
	keys, err := decrypt.FromSecret(secret)
	if err != nil {
		return nil, runtime.Failed(meta.BuildFailedReason, fmt.Errorf("spec.decryption.secretRef: %w", err))
	}
	return keys, nil
}

// reconcileApply applies the objects with the Kustomization's identity,
// within spec.timeout. When the apply fails part way, the objects it did
// create join the inventory, so that a later revision can prune them.
func (r *Reconciler) reconcileApply(ctx context.Context, s *scope) error {
	obj := s.obj
	c, target, err := clientFor(ctx, r.Clients, obj)
	if err != nil {
		return err
	}
	s.target = target
	s.manager = ssa.New(c, kustomizev1.FieldManager, ssa.KustomizationOwner(obj.Name, obj.Namespace))
	s.manager.Cache = r.cacheFor(obj, target)
	s.manager.Concurrency = r.applyConcurrency()
	local := r.Health != nil && obj.Spec.KubeConfig == nil
	if local {
		s.manager.Watched = r.Health
	}
	if r.alreadyWaiting(s) {
		// This revision and spec are applied; what is left is the wait.
		s.resumed = true
		return nil
	}
	applyCtx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	cs, err := s.manager.Apply(applyCtx, s.objects, ssa.ApplyOptions{Force: obj.Spec.Force, Ignore: obj.Spec.Ignore})
	s.changes = cs
	if err != nil {
		obj.Status.Inventory = addToInventory(obj.Status.Inventory, cs)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("not done within spec.timeout (%s): %w", obj.GetTimeout(), err)
		}
		if s.redact != nil {
			// The API server may quote what it refused.
			err = &redactedError{msg: s.redact(err.Error()), err: err}
		}
		return runtime.Failed(meta.ReconciliationFailedReason, fmt.Errorf("apply of revision %s failed: %w", s.revision, err))
	}
	obj.Status.LastAppliedRevision = s.revision
	obj.Status.LastAppliedOriginRevision = s.originRevision
	if local {
		retainWatches(r.Health, cs)
	}
	return nil
}

// retainWatches keeps a watch running for each kind applied, so that the
// next reconciles find the objects unchanged without a request (see
// ssa.Manager.Watched). CustomResourceDefinitions are left out: their
// schemas are large, few, and rarely reconciled for nothing.
func retainWatches(w *health.Watcher, cs *ssa.ChangeSet) {
	seen := map[schema.GroupVersionKind]bool{}
	for _, e := range cs.Entries {
		gvk := e.Ref.GroupVersionKind()
		if seen[gvk] || gvk.Kind == "CustomResourceDefinition" && gvk.Group == apiextensionsv1.GroupName {
			continue
		}
		seen[gvk] = true
		w.Retain(gvk)
	}
}

// redactedError is an error whose message was cleaned of decrypted values.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// applyConcurrency is how many requests one apply keeps in flight.
func (r *Reconciler) applyConcurrency() int {
	if r.ApplyConcurrency > 0 {
		return r.ApplyConcurrency
	}
	return ssa.DefaultConcurrency
}

// cacheFor returns the apply cache of obj for target, a new one when the
// target (service account, kubeconfig) changed.
func (r *Reconciler) cacheFor(obj *kustomizev1.Kustomization, target string) *ssa.Cache {
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	if v, ok := r.caches.Load(key); ok && v.(*targetCache).target == target {
		return v.(*targetCache).cache
	}
	tc := &targetCache{target: target, cache: ssa.NewCache()}
	r.caches.Store(key, tc)
	return tc.cache
}

// reconcilePrune deletes what the last inventory had and this one has not,
// and records the new inventory. It runs only after a successful apply.
func (r *Reconciler) reconcilePrune(ctx context.Context, s *scope) error {
	obj := s.obj
	if s.resumed {
		return nil
	}
	inv := ssa.Inventory(s.changes)
	old := obj.Status.Inventory
	obj.Status.Inventory = inv
	if !obj.Spec.Prune || old == nil {
		return nil
	}
	stale, err := ssa.Diff(old, inv)
	if err != nil {
		return runtime.Failed(meta.PruneFailedReason, err)
	}
	if len(stale) == 0 {
		return nil
	}
	pruned, err := s.manager.Delete(ctx, stale, ssa.DeleteOptions{})
	s.changes.Append(pruned)
	if err != nil {
		// Keep what could not be pruned in the inventory, to try again,
		// and what this apply created, to prune it once it leaves Git.
		obj.Status.Inventory = unionInventory(old, inv, pruned)
		return runtime.Failed(meta.PruneFailedReason, fmt.Errorf("prune failed: %w", err))
	}
	return nil
}

// healthRefs are the objects to wait for.
func healthRefs(obj *kustomizev1.Kustomization, cs *ssa.ChangeSet) []ssa.ObjectRef {
	if obj.Spec.Wait {
		var refs []ssa.ObjectRef
		for _, e := range cs.Entries {
			if e.Action != ssa.ActionPruned && e.Action != ssa.ActionDeleted && e.Action != ssa.ActionSkipped && !isSelf(obj, e.Ref) {
				refs = append(refs, e.Ref)
			}
		}
		return refs
	}
	refs := make([]ssa.ObjectRef, 0, len(obj.Spec.HealthChecks))
	for _, hc := range obj.Spec.HealthChecks {
		group, version := splitAPIVersion(hc.APIVersion)
		ns := hc.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		ref := ssa.ObjectRef{Group: group, Version: version, Kind: hc.Kind, Namespace: ns, Name: hc.Name}
		if !isSelf(obj, ref) {
			refs = append(refs, ref)
		}
	}
	return refs
}

// isSelf reports whether ref is the Kustomization itself, as when a
// Kustomization applies its own manifest (the usual bootstrap layout): it
// cannot wait for its own readiness, which waits for the health checks.
func isSelf(obj *kustomizev1.Kustomization, ref ssa.ObjectRef) bool {
	return ref.Group == kustomizev1.GroupVersion.Group && ref.Kind == kustomizev1.KustomizationKind &&
		ref.Namespace == obj.Namespace && ref.Name == obj.Name
}

func splitAPIVersion(apiVersion string) (group, version string) {
	for i := len(apiVersion) - 1; i >= 0; i-- {
		if apiVersion[i] == '/' {
			return apiVersion[:i], apiVersion[i+1:]
		}
	}
	return "", apiVersion
}

// cancelWaits ends the health waits of the given Kustomizations.
func (r *Reconciler) cancelWaits(keys []types.NamespacedName) {
	for _, k := range keys {
		if r.Health != nil {
			r.Health.Stop(k)
		}
		if v, ok := r.waits.Load(k); ok {
			v.(context.CancelFunc)()
		}
	}
}

// clientFor returns the client that applies and prunes for obj, and a
// string naming its target (see runtime.ClientFactory.For).
func clientFor(ctx context.Context, f *runtime.ClientFactory, obj *kustomizev1.Kustomization) (client.Client, string, error) {
	return f.For(ctx, obj, obj.Spec.ServiceAccountName, obj.Spec.KubeConfig, obj.GetRetryInterval())
}
