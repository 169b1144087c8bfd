package ssa

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// item is one desired object on its way through an apply.
type item struct {
	obj    *unstructured.Unstructured // normalized desired object
	ref    ObjectRef
	stage  Stage
	mode   string
	force  bool
	ignore []pointer
	digest string
	size   int // bytes of its JSON

	mapping   *apimeta.RESTMapping       // nil while the type is unknown
	liveKnown bool                       // liveMeta says whether the object exists
	liveMeta  metav1.Object              // the live object's metadata, nil when absent
	live      *unstructured.Unstructured // full live object, read on a cache miss
	config    *unstructured.Unstructured // what is sent
	dryRun    *unstructured.Unstructured

	deferred  bool // validated in its own stage (its CRD or Namespace comes first)
	unchecked bool // validated by its own write, the first of the apply (see pickUnchecked)
	recreate  bool // delete and create: an immutable field changed
	cleanup   bool // other managers' fields to take over first (Override)
	action    Action
	decided   bool
}

// Apply applies objs with server-side apply in stages and returns what it
// did to each object. Before any write of a stage, every object of the
// stage is validated with a server-side dry-run; when the API server
// rejects one, nothing of the stage is written and a *ValidationError
// names each rejected object. (One object to create may be validated by
// its own write instead, made first and only once all the others passed:
// see pickUnchecked.) Objects that cannot have changed since the last
// apply (see Cache) cost no request beyond one metadata List per kind and
// namespace; new objects cost their dry-run and their write, as the
// dry-run says whether they exist (see lookupLive).
//
// Per-object switches (labels or annotations) are honoured:
// kustomize.toolkit.fluxcd.io/reconcile: disabled and ssa: Ignore skip the
// object, ssa: IfNotPresent only creates it, ssa: Merge keeps the fields
// that kubectl added in the cluster (Override, the default, takes them
// over so they are removed), and force: Enabled recreates the object when
// an immutable field changed.
func (m *Manager) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	items, err := m.prepare(objs, opts)
	if err != nil {
		return nil, &ValidationError{Stage: StageClusterDefinitions, Failures: []*ObjectError{err}}
	}
	m.lookupLive(ctx, items)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	crds := crdTypes(items)
	pending := m.classify(items)

	// Validate everything that can be validated before the first write, so
	// that a bad object stops the whole revision.
	var now []*item
	for _, it := range pending {
		if it.mapping == nil {
			if _, ok := crds[it.obj.GroupVersionKind().GroupKind()]; ok {
				it.deferred = true
				continue
			}
		}
		now = append(now, it)
	}
	namespaces := namespacesIn(items)
	unchecked := pickUnchecked(now, len(crds) == 0 && len(namespaces) == 0)
	failures := m.validate(ctx, now, namespaces)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(failures) > 0 {
		if unchecked != nil && unchecked.unchecked {
			// Name all the rejections, its own too.
			unchecked.unchecked = false
			failures = append(failures, m.validate(ctx, []*item{unchecked}, nil)...)
		}
		return nil, &ValidationError{Stage: StageClusterDefinitions, Failures: failures}
	}

	cs := &ChangeSet{}
	for _, stage := range stages {
		var todo, late []*item
		for _, it := range pending {
			if it.stage != stage {
				continue
			}
			todo = append(todo, it)
			if it.deferred {
				late = append(late, it)
			}
		}
		if len(late) > 0 {
			reset := false
			for _, it := range late {
				if it.mapping == nil {
					if !reset {
						m.resetMapper()
						reset = true
					}
					if err := m.resolve(ctx, it); err != nil {
						return m.changeSet(cs, items, stage), &ValidationError{Stage: stage, Failures: []*ObjectError{{Ref: it.ref, Err: err}}}
					}
				}
			}
			failures := m.validate(ctx, late, nil)
			if err := ctx.Err(); err != nil {
				return m.changeSet(cs, items, stage), err
			}
			if len(failures) > 0 {
				return m.changeSet(cs, items, stage), &ValidationError{Stage: stage, Failures: failures}
			}
		}
		if unchecked != nil && unchecked.unchecked && unchecked.stage == stage {
			if err := m.writeUnchecked(ctx, unchecked); err != nil {
				var verr *ValidationError
				if errors.As(err, &verr) {
					return nil, err
				}
				return m.changeSet(cs, items, stage+1), err
			}
		}
		failures := m.write(ctx, todo)
		if len(failures) > 0 {
			return m.changeSet(cs, items, stage+1), &ApplyError{Stage: stage, Failures: failures}
		}
		if err := ctx.Err(); err != nil {
			return m.changeSet(cs, items, stage+1), err
		}
		if stage == StageClusterDefinitions {
			if err := m.waitDefinitions(ctx, todo, opts.StageTimeout); err != nil {
				return m.changeSet(cs, items, stage+1), err
			}
		}
	}
	return m.changeSet(cs, items, StageResources+1), nil
}

// changeSet fills cs with the decided items of the stages before upTo,
// stage by stage, in input order within a stage.
func (m *Manager) changeSet(cs *ChangeSet, items []*item, upTo Stage) *ChangeSet {
	for _, stage := range stages {
		if stage >= upTo {
			break
		}
		for _, it := range items {
			if it.stage == stage && it.decided {
				cs.Add(it.ref, it.action)
			}
		}
	}
	return cs
}

// prepare normalizes the objects and reads their switches.
func (m *Manager) prepare(objs []*unstructured.Unstructured, opts ApplyOptions) ([]*item, *ObjectError) {
	items := make([]*item, 0, len(objs))
	seen := map[string]bool{}
	crdScopes := map[schema.GroupKind]string{}
	for _, o := range objs {
		if isCRD(RefOf(o)) {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScopes[schema.GroupKind{Group: group, Kind: kind}] = scope
		}
	}
	// One lookup per type: the mapper's own is slower than a map.
	type mapped struct {
		mapping *apimeta.RESTMapping
		err     error
	}
	mappings := map[schema.GroupVersionKind]mapped{}
	for _, o := range objs {
		ref := RefOf(o)
		if ref.Kind == "" || ref.Version == "" || ref.Name == "" {
			return nil, &ObjectError{Ref: ref, Err: errors.New("apiVersion, kind and metadata.name are required")}
		}
		if seen[ref.ID()] {
			return nil, &ObjectError{Ref: ref, Err: errors.New("the object appears more than once")}
		}
		seen[ref.ID()] = true
		mode, err := ssaMode(o)
		if err != nil {
			return nil, &ObjectError{Ref: ref, Err: err}
		}
		it := &item{obj: m.normalize(o), ref: ref, stage: StageOf(ref.Group, ref.Kind), mode: mode, force: opts.Force || forced(o)}
		if it.ignore, err = ignoredPaths(opts.Ignore, o); err != nil {
			return nil, &ObjectError{Ref: ref, Err: err}
		}
		mp, ok := mappings[ref.GroupVersionKind()]
		if !ok {
			mp.mapping, mp.err = m.Client.RESTMapper().RESTMapping(ref.GroupVersionKind().GroupKind(), ref.Version)
			mappings[ref.GroupVersionKind()] = mp
		}
		if mapping, err := mp.mapping, mp.err; err == nil {
			it.mapping = mapping
			if err := scopeObject(it, mapping.Scope.Name() == apimeta.RESTScopeNameNamespace); err != nil {
				return nil, &ObjectError{Ref: ref, Err: err}
			}
		} else if scope, ok := crdScopes[ref.GroupVersionKind().GroupKind()]; ok {
			if err := scopeObject(it, scope != "Cluster"); err != nil {
				return nil, &ObjectError{Ref: ref, Err: err}
			}
		} else if !apimeta.IsNoMatchError(err) {
			return nil, &ObjectError{Ref: ref, Err: err}
		}
		if it.digest, it.size, err = digestOf(withoutPaths(it.obj, it.ignore), m.FieldManager, it.mode); err != nil {
			return nil, &ObjectError{Ref: ref, Err: err}
		}
		items = append(items, it)
	}
	return items, nil
}

// scopeObject checks the namespace of an object against its kind's scope.
func scopeObject(it *item, namespaced bool) error {
	switch {
	case namespaced && it.ref.Namespace == "":
		return errNamespaceMissing
	case !namespaced && it.ref.Namespace != "":
		// Cluster-scoped: a namespace in the manifest means nothing.
		it.obj.SetNamespace("")
		it.ref.Namespace = ""
	}
	return nil
}

// resolve finds the REST mapping of an item whose type a CRD of the same
// apply defines, once that CRD is established. The API server may set
// Established a moment before its discovery serves the new version, so a
// missing match is asked again, with the mapper's cache reset, for up to
// discoveryGrace.
func (m *Manager) resolve(ctx context.Context, it *item) error {
	var mapping *apimeta.RESTMapping
	var err error
	delay := 50 * time.Millisecond
	deadline := time.Now().Add(discoveryGrace)
	for {
		mapping, err = m.Client.RESTMapper().RESTMapping(it.ref.GroupVersionKind().GroupKind(), it.ref.Version)
		if err == nil || !apimeta.IsNoMatchError(err) || time.Now().Add(delay).After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
		m.resetMapper()
	}
	if err != nil {
		return fmt.Errorf("the API server does not serve %s: %w", it.obj.GetAPIVersion(), err)
	}
	it.mapping = mapping
	return nil
}

// discoveryGrace is how long resolve waits for discovery to serve a type
// whose CRD is Established.
const discoveryGrace = 5 * time.Second

func (m *Manager) resetMapper() {
	if r, ok := m.Client.RESTMapper().(apimeta.ResettableRESTMapper); ok {
		r.Reset()
	}
}

// crdTypes returns the group-kinds that CRDs among the items define.
func crdTypes(items []*item) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, it := range items {
		if isCRD(it.ref) {
			group, _, _ := unstructured.NestedString(it.obj.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(it.obj.Object, "spec", "names", "kind")
			out[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return out
}

// namespacesIn returns the names of the Namespaces among the items.
func namespacesIn(items []*item) map[string]bool {
	out := map[string]bool{}
	for _, it := range items {
		if isNamespace(it.ref) {
			out[it.ref.Name] = true
		}
	}
	return out
}

// classify decides what it can without writing: skipped objects, and
// objects unchanged since the last apply. It returns the others.
func (m *Manager) classify(items []*item) []*item {
	var pending []*item
	for _, it := range items {
		switch {
		case excluded(it.obj.GetLabels(), it.obj.GetAnnotations()):
			it.decide(ActionSkipped)
		case it.liveMeta != nil && excluded(it.liveMeta.GetLabels(), it.liveMeta.GetAnnotations()):
			it.decide(ActionSkipped)
		case it.mode == kustomizev1.SSAIfNotPresent && it.liveMeta != nil:
			it.decide(ActionSkipped)
		case it.liveMeta != nil && m.Cache.hit(it.ref, it.digest, it.liveMeta):
			it.decide(ActionUnchanged)
		default:
			pending = append(pending, it)
		}
	}
	return pending
}

func (it *item) decide(a Action) {
	it.action, it.decided = a, true
}

// applyObject server-side applies u, forcing ownership of conflicting
// fields, and returns the API server's answer. checked says that the same
// object passed a dry-run just before: the API server then skips its
// check for unknown fields, whose warnings that dry-run gave already.
func (m *Manager) applyObject(ctx context.Context, u *unstructured.Unstructured, dryRun, checked bool) (*unstructured.Unstructured, error) {
	res := &unstructured.Unstructured{}
	res.SetGroupVersionKind(u.GroupVersionKind())
	res.SetNamespace(u.GetNamespace())
	res.SetName(u.GetName())
	if err := m.sendApply(ctx, res, u, dryRun, checked); err != nil {
		return nil, err
	}
	return res, nil
}

// writeObject applies u like applyObject, but asks only for the metadata
// of the result, which is all a write needs (its resourceVersion): a
// smaller answer, cheaper for the API server to encode and for us to
// decode.
func (m *Manager) writeObject(ctx context.Context, u *unstructured.Unstructured, checked bool) (metav1.Object, error) {
	res := &metav1.PartialObjectMetadata{}
	res.SetGroupVersionKind(u.GroupVersionKind())
	res.SetNamespace(u.GetNamespace())
	res.SetName(u.GetName())
	if err := m.sendApply(ctx, res, u, false, checked); err != nil {
		return nil, err
	}
	return res, nil
}

func (m *Manager) sendApply(ctx context.Context, res client.Object, u *unstructured.Unstructured, dryRun, checked bool) error {
	data, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	opts := []client.PatchOption{client.FieldOwner(m.FieldManager), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	if checked {
		opts = append(opts, client.FieldValidation(metav1.FieldValidationIgnore))
	}
	return m.Client.Patch(ctx, res, client.RawPatch(types.ApplyPatchType, data), opts...)
}

// write applies the undecided items of a stage and decides their action.
func (m *Manager) write(ctx context.Context, items []*item) []*ObjectError {
	var mu sync.Mutex
	var failures []*ObjectError
	forEach(ctx, m.concurrency(), items, func(ctx context.Context, it *item) {
		if it.decided {
			return
		}
		if err := m.writeOne(ctx, it); err != nil {
			mu.Lock()
			failures = append(failures, &ObjectError{Ref: it.ref, Err: conciseError(err)})
			mu.Unlock()
		}
	})
	return failures
}

func (m *Manager) writeOne(ctx context.Context, it *item) error {
	switch {
	case it.recreate:
		if err := m.deleteAndWait(ctx, it.live); err != nil {
			return fmt.Errorf("recreate after an immutable field changed: %w", err)
		}
		res, err := m.writeObject(ctx, it.obj, false)
		if err != nil {
			return fmt.Errorf("recreate after an immutable field changed: %w", err)
		}
		m.done(it, res, ActionCreated)
	case it.live == nil:
		res, err := m.writeObject(ctx, it.config, !it.unchecked)
		if err != nil {
			return err
		}
		m.done(it, res, ActionCreated)
	case it.cleanup:
		if err := m.takeOver(ctx, it.live); err != nil {
			return fmt.Errorf("take over fields set with kubectl: %w", err)
		}
		res, err := m.applyObject(ctx, it.config, false, true)
		if err != nil {
			return err
		}
		if sameObject(it.live, res, m.FieldManager) {
			m.done(it, res, ActionUnchanged)
		} else {
			m.done(it, res, ActionConfigured)
		}
	case it.dryRun != nil && sameObject(it.live, it.dryRun, m.FieldManager):
		m.done(it, it.live, ActionUnchanged)
	default:
		res, err := m.writeObject(ctx, it.config, true)
		if err != nil {
			return err
		}
		m.done(it, res, ActionConfigured)
	}
	return nil
}

// done records the action and remembers the object's new
// resourceVersion and metadata.
func (m *Manager) done(it *item, live metav1.Object, a Action) {
	it.decide(a)
	m.Cache.set(it.ref, it.digest, live)
}

// deleteAndWait deletes live (only that incarnation of it) and waits until
// it is gone.
func (m *Manager) deleteAndWait(ctx context.Context, live *unstructured.Unstructured) error {
	uid := live.GetUID()
	err := m.Client.Delete(ctx, live.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultStageTimeout)
	defer cancel()
	for {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(live.GroupVersionKind())
		err := m.Client.Get(ctx, client.ObjectKeyFromObject(live), u)
		if apierrors.IsNotFound(err) || (err == nil && u.GetUID() != uid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still exists: %w", RefOf(live), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
