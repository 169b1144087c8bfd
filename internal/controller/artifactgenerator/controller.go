// Package artifactgenerator reconciles ArtifactGenerator objects
// (source.extensions.fluxcd.io/v1beta1), as Flux's source-watcher does: it
// reads the artifacts of the sources a generator names, builds each of its
// artifacts with the copy rules, stores it like any source artifact and
// publishes it as an ExternalArtifact of the same name, which a
// Kustomization or a HelmRelease consumes like any source.
//
// An artifact's revision is "latest@<digest>" of its own content unless
// spec.artifacts[].revision takes a source's, so a commit that changes
// only what one artifact copies gives that artifact alone a new revision:
// the consumers of the others are not woken.
package artifactgenerator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Condition reasons of an ArtifactGenerator, Flux's names.
const (
	// ValidationFailedReason: the spec cannot work as written.
	ValidationFailedReason = "ValidationFailed"
	// SourceFetchFailedReason: a source is missing, has no artifact yet,
	// or its artifact could not be downloaded.
	SourceFetchFailedReason = "SourceFetchFailed"
	// BuildFailedReason: a copy rule failed, or an artifact could not be
	// stored or published.
	BuildFailedReason = meta.BuildFailedReason
)

// DefaultInterval is how often a generator whose sources did not change is
// checked again, to notice an ExternalArtifact or a stored file that went
// missing.
const DefaultInterval = 10 * time.Minute

// Reconciler reconciles ArtifactGenerator objects.
type Reconciler struct {
	client.Client
	// Storage keeps the generated artifacts, served like those of the
	// sources.
	Storage *artifact.Storage
	// Artifacts downloads and unpacks the sources' artifacts.
	Artifacts *artifact.Cache
	Recorder  *runtime.Recorder
	Metrics   *runtime.Metrics
	// NoCrossNamespaceRefs refuses sources in another namespace than the
	// generator's (--no-cross-namespace-refs).
	NoCrossNamespaceRefs bool
	// DependencyRequeue is how long to wait for a source that is missing
	// or has no artifact yet.
	DependencyRequeue time.Duration
	// Interval is how often an unchanged generator is checked again; zero
	// means DefaultInterval.
	Interval time.Duration
	// Limits cap what a generated artifact may hold and what an Extract
	// rule may unpack; zero fields take the artifact package's defaults.
	Limits artifact.Limits
}

// source is one entry of spec.sources, resolved.
type source struct {
	ref swv1.SourceReference
	art *meta.Artifact
	dir string // the artifact unpacked, read only
}

// built is one artifact made in the workspace, not yet published.
type built struct {
	spec     swv1.OutputArtifact
	file     string // the tar.gz in the workspace
	digest   string
	revision string
	origin   string
}

// Reconcile brings the ExternalArtifacts of one ArtifactGenerator up to
// date with its sources and spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &swv1.ArtifactGenerator{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, swv1.ArtifactGeneratorKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}
	var changed []string
	defer func() {
		if retErr == nil {
			runtime.MarkReady(obj, meta.SucceededReason, "%s", readyMessage(obj))
		} else {
			runtime.MarkOutcome(obj, retErr, BuildFailedReason)
		}
		r.announce(obj, retErr, before, changed)
		if err := patcher.Patch(ctx, obj, runtime.WithObservedGeneration()); err != nil {
			retErr = errors.Join(retErr, err)
		}
		r.Metrics.RecordObject(swv1.ArtifactGeneratorKind, obj, false)
		r.Metrics.ObserveDuration(swv1.ArtifactGeneratorKind, start)
		result, retErr = runtime.Result(retErr, r.interval())
	}()

	if err := validate(obj, r.NoCrossNamespaceRefs); err != nil {
		return ctrl.Result{}, err
	}
	sources, err := r.resolveSources(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	digest := sourcesDigest(obj, sources)
	// Nothing to do when the last reconcile of this spec succeeded with
	// these very sources and everything it published is still there.
	if before.Ready && obj.Status.ObservedSourcesDigest == digest && obj.Status.ObservedGeneration == obj.Generation &&
		r.inventoryIntact(ctx, obj) {
		return ctrl.Result{}, nil
	}
	changed, err = r.generate(ctx, obj, sources)
	if err != nil {
		return ctrl.Result{}, err
	}
	obj.Status.ObservedSourcesDigest = digest
	return ctrl.Result{}, nil
}

func (r *Reconciler) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultInterval
}

func readyMessage(obj *swv1.ArtifactGenerator) string {
	names := make([]string, 0, len(obj.Status.Inventory))
	for _, e := range obj.Status.Inventory {
		names = append(names, e.Name)
	}
	return fmt.Sprintf("reconciliation succeeded, generated %d artifact(s): %s", len(names), strings.Join(names, ", "))
}

// validate checks what the CRD's schema cannot: unique aliases and
// artifact names, and that every alias a rule names is a source.
func validate(obj *swv1.ArtifactGenerator, noCrossNamespace bool) error {
	spec := obj.Spec
	if spec.PathPattern != "" {
		// Flux's source-watcher 2.x makes one artifact per directory that
		// the pattern matches; gotk does not yet.
		return runtime.Stallingf(ValidationFailedReason,
			"spec.pathPattern %q is not supported yet: list the artifacts in spec.artifacts", spec.PathPattern)
	}
	if len(spec.Sources) == 0 || len(spec.Artifacts) == 0 {
		return runtime.Stallingf(ValidationFailedReason, "spec.sources and spec.artifacts must each list at least one entry")
	}
	aliases := map[string]int{}
	for i, s := range spec.Sources {
		if j, dup := aliases[s.Alias]; dup {
			return runtime.Stallingf(ValidationFailedReason, "spec.sources[%d].alias %q is already the alias of spec.sources[%d]", i, s.Alias, j)
		}
		aliases[s.Alias] = i
		switch s.Kind {
		case sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind, sourcev1.HelmChartKind, sourcev1.ExternalArtifactKind:
		default:
			return runtime.Stallingf(ValidationFailedReason, "spec.sources[%d].kind %q is not a source kind (GitRepository, OCIRepository, Bucket, HelmChart or ExternalArtifact)", i, s.Kind)
		}
		if noCrossNamespace && s.Namespace != "" && s.Namespace != obj.Namespace {
			return runtime.Stallingf(meta.AccessDeniedReason,
				"spec.sources[%d]: %s '%s/%s' is in another namespace, which --no-cross-namespace-refs forbids", i, s.Kind, s.Namespace, s.Name)
		}
	}
	names := map[string]int{}
	aliasRef := func(field, v string) error {
		a := strings.TrimPrefix(v, "@")
		if _, ok := aliases[a]; !ok {
			return runtime.Stallingf(ValidationFailedReason, "%s %q names no alias of spec.sources", field, v)
		}
		return nil
	}
	for i, a := range spec.Artifacts {
		if j, dup := names[a.Name]; dup {
			return runtime.Stallingf(ValidationFailedReason, "spec.artifacts[%d].name %q is already the name of spec.artifacts[%d]", i, a.Name, j)
		}
		names[a.Name] = i
		if len(a.Copy) == 0 {
			return runtime.Stallingf(ValidationFailedReason, "spec.artifacts[%d] (%s) has no copy rule", i, a.Name)
		}
		if a.Revision != "" {
			if err := aliasRef(fmt.Sprintf("spec.artifacts[%d].revision", i), a.Revision); err != nil {
				return err
			}
		}
		if a.OriginRevision != "" {
			if err := aliasRef(fmt.Sprintf("spec.artifacts[%d].originRevision", i), a.OriginRevision); err != nil {
				return err
			}
		}
		for j, op := range a.Copy {
			field := fmt.Sprintf("spec.artifacts[%d].copy[%d]", i, j)
			alias, pattern, err := parseFrom(op.From)
			if err != nil {
				return runtime.Stallingf(ValidationFailedReason, "%s.from %q: %s", field, op.From, err)
			}
			if _, ok := aliases[alias]; !ok {
				return runtime.Stallingf(ValidationFailedReason, "%s.from %q: alias %q is not in spec.sources", field, op.From, alias)
			}
			if err := localPath(pattern); err != nil {
				return runtime.Stallingf(ValidationFailedReason, "%s.from %q escapes its source: %s", field, op.From, err)
			}
			if _, err := parseTo(op.To); err != nil {
				return runtime.Stallingf(ValidationFailedReason, "%s.to %q escapes the artifact: %s", field, op.To, err)
			}
		}
	}
	return nil
}

// sourceObject returns an empty object of a source kind.
func sourceObject(kind string) sourcev1.ArtifactSource {
	switch kind {
	case sourcev1.GitRepositoryKind:
		return &sourcev1.GitRepository{}
	case sourcev1.OCIRepositoryKind:
		return &sourcev1.OCIRepository{}
	case sourcev1.BucketKind:
		return &sourcev1.Bucket{}
	case sourcev1.HelmChartKind:
		return &sourcev1.HelmChart{}
	case sourcev1.ExternalArtifactKind:
		return &sourcev1.ExternalArtifact{}
	}
	return nil
}

func sourceNamespace(obj *swv1.ArtifactGenerator, ref swv1.SourceReference) string {
	if ref.Namespace != "" {
		return ref.Namespace
	}
	return obj.Namespace
}

// resolveSources reads the artifact of every source; one that is missing
// or has none yet is waited for.
func (r *Reconciler) resolveSources(ctx context.Context, obj *swv1.ArtifactGenerator) (map[string]*source, error) {
	out := map[string]*source{}
	for i, ref := range obj.Spec.Sources {
		ns := sourceNamespace(obj, ref)
		src := sourceObject(ref.Kind)
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, src); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, runtime.Waiting(SourceFetchFailedReason, r.DependencyRequeue,
					fmt.Errorf("spec.sources[%d] (@%s): %s '%s/%s' not found", i, ref.Alias, ref.Kind, ns, ref.Name))
			}
			return nil, runtime.Failed(SourceFetchFailedReason, fmt.Errorf("spec.sources[%d] (@%s): get %s '%s/%s': %w", i, ref.Alias, ref.Kind, ns, ref.Name, err))
		}
		art := src.GetArtifact()
		if art == nil {
			return nil, runtime.Waiting(SourceFetchFailedReason, r.DependencyRequeue,
				fmt.Errorf("spec.sources[%d] (@%s): %s '%s/%s' has no artifact yet", i, ref.Alias, ref.Kind, ns, ref.Name))
		}
		out[ref.Alias] = &source{ref: ref, art: art.DeepCopy()}
	}
	return out, nil
}

// sourcesDigest sums up what a generation depends on besides the spec:
// each source and the digest and revision of its artifact.
func sourcesDigest(obj *swv1.ArtifactGenerator, sources map[string]*source) string {
	h := sha256.New()
	aliases := make([]string, 0, len(sources))
	for a := range sources {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	for _, a := range aliases {
		s := sources[a]
		fmt.Fprintf(h, "%s\x00%s\x00%s/%s\x00%s\x00%s\x00%s\n", a, s.ref.Kind, sourceNamespace(obj, s.ref), s.ref.Name,
			s.art.Revision, s.art.Digest, s.art.OriginRevision())
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// inventoryIntact reports whether every ExternalArtifact of the inventory
// still exists with its artifact, as published, in storage.
func (r *Reconciler) inventoryIntact(ctx context.Context, obj *swv1.ArtifactGenerator) bool {
	if len(obj.Status.Inventory) != len(obj.Spec.Artifacts) {
		return false
	}
	for _, e := range obj.Status.Inventory {
		ea := &sourcev1.ExternalArtifact{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Name}, ea); err != nil {
			return false
		}
		art := ea.Status.Artifact
		if art == nil || art.Digest != e.Digest || !r.Storage.Exists(*art) || !ea.DeletionTimestamp.IsZero() {
			return false
		}
	}
	return true
}

// generate builds every artifact, then publishes them and removes the
// ExternalArtifacts no longer in the spec. A rule that fails stops it
// before anything is published: every ExternalArtifact keeps its last
// good artifact. It returns the names of the artifacts that changed.
func (r *Reconciler) generate(ctx context.Context, obj *swv1.ArtifactGenerator, sources map[string]*source) ([]string, error) {
	for _, s := range sources {
		h, err := r.Artifacts.Get(ctx, *s.art)
		if err != nil {
			return nil, runtime.Failed(SourceFetchFailedReason, fmt.Errorf("source @%s: fetch artifact %s (revision %s): %w",
				s.ref.Alias, s.art.URL, s.art.Revision, err))
		}
		defer h.Release()
		s.dir = h.Dir
	}
	dirs := map[string]string{}
	for a, s := range sources {
		dirs[a] = s.dir
	}
	work, err := os.MkdirTemp("", "artifactgenerator-")
	if err != nil {
		return nil, runtime.Failed(BuildFailedReason, err)
	}
	defer os.RemoveAll(work)

	var outs []built
	for i, spec := range obj.Spec.Artifacts {
		b, err := r.buildOne(spec, i, sources, dirs, work)
		if err != nil {
			return nil, err
		}
		outs = append(outs, b)
	}

	var changed []string
	inventory := make([]swv1.ExternalArtifactReference, 0, len(outs))
	for _, b := range outs {
		art, updated, err := r.publish(ctx, obj, b)
		if err != nil {
			return changed, err
		}
		if updated {
			changed = append(changed, b.spec.Name+"@"+art.Revision)
		}
		inventory = append(inventory, swv1.ExternalArtifactReference{
			Name: b.spec.Name, Namespace: obj.Namespace, Digest: art.Digest, Filename: filepath.Base(art.Path),
		})
	}
	if err := r.removeStale(ctx, obj, inventory); err != nil {
		return changed, err
	}
	obj.Status.Inventory = inventory
	return changed, nil
}

// buildOne applies the rules of one artifact in a staging directory and
// packs it.
func (r *Reconciler) buildOne(spec swv1.OutputArtifact, i int, sources map[string]*source, dirs map[string]string, work string) (built, error) {
	stage := filepath.Join(work, fmt.Sprintf("%d", i))
	if err := os.Mkdir(stage, 0o755); err != nil {
		return built{}, runtime.Failed(BuildFailedReason, err)
	}
	if err := build(spec, i, dirs, stage, r.Limits); err != nil {
		return built{}, runtime.Failed(BuildFailedReason, fmt.Errorf("artifact %s: %w", spec.Name, err))
	}
	if err := checkSize(stage, r.limits()); err != nil {
		return built{}, runtime.Failed(BuildFailedReason, fmt.Errorf("artifact %s: %w", spec.Name, err))
	}
	file := filepath.Join(work, fmt.Sprintf("%d.tar.gz", i))
	f, err := os.Create(file)
	if err != nil {
		return built{}, runtime.Failed(BuildFailedReason, err)
	}
	h := sha256.New()
	err = artifact.Archive(stage, io.MultiWriter(f, h), nil)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return built{}, runtime.Failed(BuildFailedReason, fmt.Errorf("artifact %s: pack: %w", spec.Name, err))
	}
	b := built{spec: spec, file: file, digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}
	b.revision = "latest@" + b.digest
	if spec.Revision != "" {
		b.revision = sources[strings.TrimPrefix(spec.Revision, "@")].art.Revision
	}
	if spec.OriginRevision != "" {
		src := sources[strings.TrimPrefix(spec.OriginRevision, "@")].art
		b.origin = src.OriginRevision()
		if b.origin == "" {
			b.origin = src.Revision
		}
	}
	return b, nil
}

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

// checkSize refuses an artifact that its consumers would refuse to unpack.
func checkSize(dir string, lim artifact.Limits) error {
	var total int64
	files := 0
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		files++
		if files > lim.MaxFiles+1 {
			return fmt.Errorf("it holds more than %d files, the artifact limit", lim.MaxFiles)
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
			if total > lim.MaxSize {
				rel, _ := filepath.Rel(dir, p)
				return fmt.Errorf("it is larger than %d bytes, the artifact size limit (file %s brought it over)", lim.MaxSize, rel)
			}
		}
		return nil
	})
}

// owned reports whether ea was made by obj.
func owned(ea *sourcev1.ExternalArtifact, obj *swv1.ArtifactGenerator) bool {
	for _, o := range ea.OwnerReferences {
		if o.UID == obj.UID {
			return true
		}
	}
	ref := ea.Spec.SourceRef
	return len(ea.OwnerReferences) == 0 && ref != nil && ref.Kind == swv1.ArtifactGeneratorKind &&
		ref.Name == obj.Name && (ref.Namespace == "" || ref.Namespace == obj.Namespace)
}

// publish stores the artifact b, unless the ExternalArtifact already
// holds the same content under the same revision, and writes the
// ExternalArtifact; one that needs no change is not written at all. It
// reports whether the artifact changed.
func (r *Reconciler) publish(ctx context.Context, obj *swv1.ArtifactGenerator, b built) (*meta.Artifact, bool, error) {
	key := client.ObjectKey{Namespace: obj.Namespace, Name: b.spec.Name}
	ea := &sourcev1.ExternalArtifact{}
	err := r.Get(ctx, key, ea)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, false, runtime.Failed(BuildFailedReason, fmt.Errorf("get ExternalArtifact '%s': %w", key, err))
	}
	if exists && !owned(ea, obj) {
		return nil, false, runtime.Failed(BuildFailedReason, fmt.Errorf(
			"spec.artifacts: ExternalArtifact '%s' already exists and was not made by this generator: rename the artifact or delete that object", key))
	}
	if exists && !ea.DeletionTimestamp.IsZero() {
		return nil, false, runtime.Waiting(BuildFailedReason, r.DependencyRequeue,
			fmt.Errorf("ExternalArtifact '%s' is being deleted: it is made again once it is gone", key))
	}

	if exists && ea.Status.Artifact != nil {
		cur := ea.Status.Artifact
		// The origin revision alone does not make a new artifact: it
		// stays the one the content was first made from, so that a
		// commit elsewhere in the source does not touch this artifact.
		if cur.Digest == b.digest && cur.Revision == b.revision && r.Storage.Exists(*cur) {
			if err := r.writeExternalArtifact(ctx, obj, b.spec.Name, ea, exists, cur); err != nil {
				return nil, false, err
			}
			return cur, false, nil
		}
	}

	ref := artifact.Ref{Kind: sourcev1.ExternalArtifactKind, Namespace: obj.Namespace, Name: b.spec.Name}
	unlock := r.Storage.Lock(ref)
	defer unlock()
	art, err := r.Storage.NewArtifact(ref, b.revision, strings.TrimPrefix(b.digest, "sha256:")+".tar.gz")
	if err != nil {
		return nil, false, runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	f, err := os.Open(b.file)
	if err != nil {
		return nil, false, runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	err = r.Storage.Copy(&art, f)
	f.Close()
	if err != nil {
		return nil, false, runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact %s: %w", b.spec.Name, err))
	}
	if b.origin != "" {
		art.Metadata = map[string]string{meta.OriginRevisionAnnotation: b.origin}
	}
	if err := r.writeExternalArtifact(ctx, obj, b.spec.Name, ea, exists, &art); err != nil {
		return nil, false, err
	}
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctrl.LoggerFrom(ctx).Info("garbage collection failed", "artifact", ref.String(), "error", err.Error())
	}
	return &art, true, nil
}

// writeExternalArtifact creates or updates ea (spec, owner, labels and
// annotations of spec.commonMetadata), then its status: the artifact and
// Ready.
func (r *Reconciler) writeExternalArtifact(ctx context.Context, obj *swv1.ArtifactGenerator, name string, ea *sourcev1.ExternalArtifact, exists bool, art *meta.Artifact) error {
	if !exists {
		ea = &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: obj.Namespace}}
	}
	before := ea.DeepCopy()
	ea.Spec.SourceRef = &meta.NamespacedObjectKindReference{
		APIVersion: swv1.GroupVersion.String(), Kind: swv1.ArtifactGeneratorKind, Name: obj.Name, Namespace: obj.Namespace,
	}
	if cm := obj.Spec.CommonMetadata; cm != nil {
		if len(cm.Labels) > 0 && ea.Labels == nil {
			ea.Labels = map[string]string{}
		}
		for k, v := range cm.Labels {
			ea.Labels[k] = v
		}
		if len(cm.Annotations) > 0 && ea.Annotations == nil {
			ea.Annotations = map[string]string{}
		}
		for k, v := range cm.Annotations {
			ea.Annotations[k] = v
		}
	}
	if err := controllerutil.SetControllerReference(obj, ea, r.Scheme()); err != nil {
		return runtime.Failed(BuildFailedReason, fmt.Errorf("ExternalArtifact '%s/%s': %w", ea.Namespace, ea.Name, err))
	}
	switch {
	case !exists:
		if err := r.Create(ctx, ea); err != nil {
			return runtime.Failed(BuildFailedReason, fmt.Errorf("create ExternalArtifact '%s/%s': %w", ea.Namespace, ea.Name, err))
		}
	case !equality.Semantic.DeepEqual(before.ObjectMeta, ea.ObjectMeta) || !equality.Semantic.DeepEqual(before.Spec, ea.Spec):
		if err := r.Patch(ctx, ea, client.MergeFrom(before)); err != nil {
			return runtime.Failed(BuildFailedReason, fmt.Errorf("update ExternalArtifact '%s/%s': %w", ea.Namespace, ea.Name, err))
		}
	}
	statusBefore := ea.DeepCopy()
	ea.Status.Artifact = art.DeepCopy()
	ea.Status.ObservedGeneration = ea.Generation
	runtime.MarkReady(ea, meta.SucceededReason, "stored artifact for revision '%s'", art.Revision)
	if equality.Semantic.DeepEqual(statusBefore.Status, ea.Status) {
		// Nothing new: consumers see no update at all.
		return nil
	}
	if err := r.Status().Patch(ctx, ea, client.MergeFrom(statusBefore)); err != nil {
		return runtime.Failed(BuildFailedReason, fmt.Errorf("update status of ExternalArtifact '%s/%s': %w", ea.Namespace, ea.Name, err))
	}
	return nil
}

// removeStale deletes the ExternalArtifacts of the inventory that the
// spec no longer lists, with their stored artifacts.
func (r *Reconciler) removeStale(ctx context.Context, obj *swv1.ArtifactGenerator, keep []swv1.ExternalArtifactReference) error {
	kept := map[string]bool{}
	for _, e := range keep {
		kept[e.Namespace+"/"+e.Name] = true
	}
	var errs []error
	for _, e := range obj.Status.Inventory {
		if kept[e.Namespace+"/"+e.Name] {
			continue
		}
		if err := r.deleteExternalArtifact(ctx, obj, e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return runtime.Failed(BuildFailedReason, errors.Join(errs...))
	}
	return nil
}

func (r *Reconciler) deleteExternalArtifact(ctx context.Context, obj *swv1.ArtifactGenerator, e swv1.ExternalArtifactReference) error {
	ea := &sourcev1.ExternalArtifact{}
	err := r.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Name}, ea)
	exists := err == nil
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("get ExternalArtifact '%s/%s': %w", e.Namespace, e.Name, err)
	case !owned(ea, obj):
		// Someone else's object took the name: leave it, and its files.
		return nil
	}
	// The files go first, so that once the object is gone nothing of it
	// is left.
	ref := artifact.Ref{Kind: sourcev1.ExternalArtifactKind, Namespace: e.Namespace, Name: e.Name}
	unlock := r.Storage.Lock(ref)
	err = r.Storage.Remove(ref)
	unlock()
	if err != nil {
		return err
	}
	if exists {
		if err := r.Delete(ctx, ea); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete ExternalArtifact '%s/%s': %w", e.Namespace, e.Name, err)
		}
	}
	return nil
}

// reconcileDelete removes every ExternalArtifact the generator made, with
// its files, then the finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *swv1.ArtifactGenerator) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, meta.Finalizer) {
		return ctrl.Result{}, nil
	}
	var errs []error
	for _, e := range obj.Status.Inventory {
		if err := r.deleteExternalArtifact(ctx, obj, e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, errors.Join(errs...)
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(obj, meta.Finalizer)
	r.Metrics.Forget(swv1.ArtifactGeneratorKind, obj.Namespace, obj.Name)
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}

// announce records an event for new artifacts, a recovery or a new
// failure, and nothing for a reconcile that changed nothing.
func (r *Reconciler) announce(obj *swv1.ArtifactGenerator, err error, before runtime.Before, changed []string) {
	if r.Recorder == nil {
		return
	}
	if err != nil {
		if msg := runtime.Message(obj, meta.ReadyCondition); msg != before.Message || before.Ready {
			r.Recorder.Eventf(obj, nil, runtime.SeverityError, runtime.ReasonOf(err, BuildFailedReason), "%s", msg)
		}
		return
	}
	switch {
	case len(changed) > 0:
		r.Recorder.Eventf(obj, nil, runtime.SeverityInfo, meta.NewRevisionReason, "generated %s", strings.Join(changed, ", "))
	case !before.Ready && before.Message != "" && !strings.HasPrefix(before.Message, "reconciliation in progress"):
		r.Recorder.Eventf(obj, nil, runtime.SeverityInfo, meta.SucceededReason, "%s", readyMessage(obj))
	}
}
