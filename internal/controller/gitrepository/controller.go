// Package gitrepository reconciles GitRepository objects: it resolves the
// ref, checks the commit out (or notices that nothing moved), verifies its
// signature, brings in included repositories, and stores the tree as a
// deterministic tar.gz artifact that consumers download.
package gitrepository

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/git"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Reconciler reconciles GitRepository objects.
type Reconciler struct {
	client.Client
	Storage  *artifact.Storage
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	// DependencyRequeue is how long to wait for an included repository
	// that has no artifact yet.
	DependencyRequeue time.Duration
	// Limits cap what a checkout may hold before it is packed; zero
	// fields take artifact.DefaultMaxSize and artifact.DefaultMaxFiles.
	Limits artifact.Limits
}

// scope carries what the phases of one reconcile find.
type scope struct {
	obj *sourcev1.GitRepository
	// patcher writes the status mid-reconcile, so that a new revision
	// being built shows before its artifact is stored.
	patcher *runtime.Patcher
	// auth and proxy come from the referenced Secrets.
	auth  *git.Auth
	proxy *git.Proxy
	// revision is what the ref points at now.
	revision string
	// commit is set when the repository was checked out.
	commit *git.Commit
	// dir holds the checkout.
	dir string
	// included are the artifacts of spec.include, in order.
	included []*meta.Artifact
	// upToDate means the stored artifact already matches the remote and
	// the spec: nothing was downloaded.
	upToDate bool
	// verified says which keys verified the revision.
	verified []git.Verification
}

// Reconcile brings one GitRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &sourcev1.GitRepository{}
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
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, sourcev1.GitRepositoryKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}

	s := &scope{obj: obj, patcher: patcher}
	defer func() {
		summarize(obj, retErr)
		r.announce(obj, s, retErr, before.Ready, before.Message, prevRevision)
		result, retErr = runtime.Ending{Kind: sourcev1.GitRepositoryKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
		// The checkout goes after the status is written: removing a
		// large tree takes a while and nobody waits for it.
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	}()

	return ctrl.Result{}, runtime.Phases(ctx, obj.GetTimeout(), s,
		r.reconcileStorage,
		r.reconcileCredentials,
		r.reconcileInclude,
		r.reconcileSource,
		r.reconcileArtifact,
	)
}

// reconcileStorage notices an artifact that vanished from storage, so that
// it is rebuilt, and trims old artifacts.
func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.GitRepositoryKind, s.obj, s.obj.Status.Artifact)
}

// reconcileCredentials reads the Secrets that spec.secretRef and
// spec.proxySecretRef name.
func (r *Reconciler) reconcileCredentials(ctx context.Context, s *scope) error {
	obj := s.obj
	if obj.Spec.Provider != "" && obj.Spec.Provider != sourcev1.GitProviderGeneric {
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.provider %q is not supported yet: use a secretRef with a token instead", obj.Spec.Provider)
	}
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return runtime.Failed(meta.AuthenticationFailedReason, err)
		}
		if s.auth, err = git.AuthFromSecret(data); err != nil {
			return runtime.Failed(meta.AuthenticationFailedReason, fmt.Errorf("secret '%s/%s': %w", obj.Namespace, ref.Name, err))
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return runtime.Failed(meta.AuthenticationFailedReason, err)
		}
		if s.proxy, err = git.ProxyFromSecret(data); err != nil {
			return runtime.Failed(meta.AuthenticationFailedReason, fmt.Errorf("proxy secret '%s/%s': %w", obj.Namespace, ref.Name, err))
		}
	}
	return nil
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

// gitOptions turns the spec into checkout options.
func gitOptions(s *scope) git.Options {
	o := git.Options{
		Auth:              s.auth,
		Proxy:             s.proxy,
		RecurseSubmodules: s.obj.Spec.RecurseSubmodules,
		SparseCheckout:    s.obj.Spec.SparseCheckout,
	}
	if ref := s.obj.Spec.Reference; ref != nil {
		o.Ref = git.Ref{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.SemVer, Name: ref.Name, Commit: ref.Commit}
	}
	return o
}

// reconcileSource resolves the ref and checks the commit out, unless the
// stored artifact already holds it as the spec asks.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	// Whether the artifact is outdated is found out anew, as Flux does.
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	opts := gitOptions(s)
	rev, err := git.LatestRevision(ctx, obj.Spec.URL, opts)
	if err != nil {
		return classify(obj, err)
	}
	s.revision = rev
	if r.upToDate(s) {
		s.upToDate = true
		runtime.Delete(obj, meta.FetchFailedCondition)
		if obj.Spec.Verification == nil {
			// Verification was turned off: nothing vouches for the
			// revision any more.
			runtime.Delete(obj, meta.SourceVerifiedCondition)
			obj.Status.SourceVerificationMode = nil
		}
		return nil
	}

	dir, err := os.MkdirTemp("", "gitrepository-")
	if err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	s.dir = dir
	commit, err := git.Checkout(ctx, obj.Spec.URL, dir, opts)
	if err != nil {
		return classify(obj, err)
	}
	s.commit = commit
	s.revision = commit.Revision()
	runtime.Delete(obj, meta.FetchFailedCondition)
	if err := r.reconcileVerification(ctx, s); err != nil {
		return err
	}
	return r.markOutdated(ctx, s)
}

// IncludeChangeReason is the reason of ArtifactOutdated when only the
// artifacts of spec.include moved on.
const IncludeChangeReason = "IncludeChange"

// markOutdated records, as Flux's source-controller does, that the stored
// artifact is behind: ArtifactOutdated=True with reason NewRevision when
// the checked-out revision is not the stored one, or IncludeChange when
// only included artifacts changed. The status is written at once, so that
// the condition shows while the new artifact is packed; it is removed
// once the artifact is stored.
func (r *Reconciler) markOutdated(ctx context.Context, s *scope) error {
	obj := s.obj
	art := obj.Status.Artifact
	if art == nil {
		return nil
	}
	var msg string
	switch {
	case art.Revision != s.revision:
		msg = fmt.Sprintf("new upstream revision '%s'", s.revision)
		runtime.MarkTrue(obj, meta.ArtifactOutdatedCondition, meta.NewRevisionReason, "%s", msg)
	case obj.Status.IncludedArtifacts != nil && !equalJSON(obj.Status.IncludedArtifacts, s.included):
		msg = "included artifacts differ from last observed includes"
		runtime.MarkTrue(obj, meta.ArtifactOutdatedCondition, IncludeChangeReason, "%s", msg)
	default:
		return nil
	}
	runtime.MarkReconciling(obj, meta.ProgressingReason, "building artifact: %s", msg)
	if s.patcher == nil {
		return nil
	}
	if err := s.patcher.Patch(ctx, obj); err != nil {
		return runtime.Failed(meta.FailedReason, fmt.Errorf("record the new revision: %w", err))
	}
	return nil
}

// upToDate reports whether the stored artifact was made from the revision
// the remote points at, with the spec as it is now.
func (r *Reconciler) upToDate(s *scope) bool {
	obj := s.obj
	art := obj.Status.Artifact
	if art == nil || art.Revision != s.revision || !r.Storage.Exists(*art) {
		return false
	}
	if !equalJSON(obj.Status.ObservedIgnore, obj.Spec.Ignore) ||
		obj.Status.ObservedRecurseSubmodules != obj.Spec.RecurseSubmodules ||
		!equalJSON(obj.Status.ObservedInclude, obj.Spec.Include) ||
		!equalJSON(obj.Status.ObservedSparseCheckout, obj.Spec.SparseCheckout) ||
		!equalJSON(obj.Status.IncludedArtifacts, s.included) {
		return false
	}
	// A verified revision stays verified; a newly asked verification
	// needs the commit.
	if v := obj.Spec.Verification; v != nil {
		mode := v.GetMode()
		if obj.Status.SourceVerificationMode == nil || *obj.Status.SourceVerificationMode != mode ||
			!runtime.IsTrue(obj, meta.SourceVerifiedCondition) {
			return false
		}
	}
	return true
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// classify maps a git error to a condition reason and to stalling or
// retrying.
func classify(obj *sourcev1.GitRepository, err error) error {
	var authErr *git.AuthError
	var invalid *git.InvalidError
	var unsafePath *git.UnsafePathError
	var reason string
	switch {
	case errors.As(err, &unsafePath):
		reason = sourcev1.ArchiveOperationFailedReason
	case errors.As(err, &invalid) && strings.HasPrefix(invalid.Field, "spec.") && invalid.Field != "spec.secretRef":
		runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.InvalidSpecReason, "%s", err)
		return runtime.Stalling(meta.InvalidSpecReason, err)
	case errors.As(err, &invalid), errors.As(err, &authErr):
		// What a Secret lacks is fixed by editing the Secret, which does
		// not reconcile the object: retry rather than stall.
		reason = meta.AuthenticationFailedReason
	default:
		reason = meta.GitOperationFailedReason
	}
	runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
	return runtime.Failed(reason, err)
}

// reconcileVerification checks the signatures that spec.verify asks for.
func (r *Reconciler) reconcileVerification(ctx context.Context, s *scope) error {
	obj := s.obj
	v := obj.Spec.Verification
	if v == nil {
		runtime.Delete(obj, meta.SourceVerifiedCondition)
		obj.Status.SourceVerificationMode = nil
		return nil
	}
	data, err := r.secretData(ctx, obj.Namespace, v.SecretRef.Name)
	if err != nil {
		runtime.MarkFalse(obj, meta.SourceVerifiedCondition, meta.VerificationErrorReason, "%s", err)
		return runtime.Failed(meta.VerificationErrorReason, err)
	}
	ring, err := git.ParseKeyRing(data)
	if err != nil {
		err = fmt.Errorf("verification secret '%s/%s': %w", obj.Namespace, v.SecretRef.Name, err)
		runtime.MarkFalse(obj, meta.SourceVerifiedCondition, meta.VerificationErrorReason, "%s", err)
		return runtime.Failed(meta.VerificationErrorReason, err)
	}
	mode, err := git.ParseMode(string(v.GetMode()))
	if err != nil {
		return runtime.Stalling(meta.InvalidSpecReason, err)
	}
	verified, err := git.Verify(s.commit, mode, ring)
	if err != nil {
		// Ready says the same as SourceVerified: which revision was
		// refused and why, so the user knows no artifact was made of it.
		err = fmt.Errorf("revision %s was not stored: %w", s.revision, err)
		runtime.MarkFalse(obj, meta.SourceVerifiedCondition, meta.VerificationErrorReason, "%s", err)
		return runtime.Failed(meta.VerificationErrorReason, err)
	}
	s.verified = verified
	m := v.GetMode()
	obj.Status.SourceVerificationMode = &m
	runtime.MarkTrue(obj, meta.SourceVerifiedCondition, meta.SucceededReason, "%s", describe(verified))
	return nil
}

func describe(vs []git.Verification) string {
	msg := ""
	for i, v := range vs {
		if i > 0 {
			msg += "; "
		}
		msg += v.String()
	}
	return msg
}

// contentID names an artifact file after everything that shapes its
// content, so a changed ignore rule or include never overwrites the file a
// consumer may be downloading.
func contentID(s *scope) string {
	h := sha256.New()
	spec := s.obj.Spec
	_ = json.NewEncoder(h).Encode([]any{spec.Ignore, spec.Include, spec.SparseCheckout, spec.RecurseSubmodules, s.included})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
