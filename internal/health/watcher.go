// Package health tracks the readiness of sets of objects without holding
// a worker: an owner (a Kustomization, a HelmRelease) starts a wait for
// the objects it applied and returns; shared watches, one per kind being
// waited for, keep the objects' metadata and status in memory, and the
// owner is notified as soon as one of its objects changes, so that its
// next reconcile reads their health from memory (kstatus, or the custom
// health checks of their kind).
//
// The package knows no kind and no owner type: owners are named by a
// namespaced name, objects by ssa.ObjectRef.
package health

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// DefaultLinger is how long a watch that no wait needs any more keeps
// running, so that waits that end and start in waves (a new revision for
// many owners at once) do not list the same kind again and again.
const DefaultLinger = 30 * time.Second

// Watcher tracks the waits of many owners. Its zero value is not usable:
// set Dynamic and Mapper. It is safe for concurrent use.
type Watcher struct {
	// Dynamic lists and watches the objects, with the controller's own
	// identity.
	Dynamic dynamic.Interface
	// Mapper finds the resource of a kind.
	Mapper apimeta.RESTMapper
	// Selector is the label selector of the shared watches: one watch per
	// kind, cluster-wide, of the objects that carry it (such as
	// "kustomize.toolkit.fluxcd.io/name", which every object a
	// Kustomization applies carries). Targets marked Unlabelled are
	// watched one by one, by name, instead.
	Selector string
	// Linger is how long a watch that no wait needs keeps running; zero
	// stops it at once. New sets DefaultLinger.
	Linger time.Duration

	mu        sync.Mutex
	waits     map[types.NamespacedName]*wait
	informers map[informerKey]*informer
	// waiters lists, per object, the owners waiting for it.
	waiters map[objectKey]map[types.NamespacedName]struct{}

	// retained are the kinds watched for good (see Retain).
	retained map[schema.GroupVersionKind]bool

	notifyOnce sync.Once
	events     chan event.GenericEvent
	queued     map[types.NamespacedName]bool
	kick       chan struct{}
}

// New returns a Watcher of the objects that carry selector.
func New(dyn dynamic.Interface, mapper apimeta.RESTMapper, selector string) *Watcher {
	return &Watcher{Dynamic: dyn, Mapper: mapper, Selector: selector, Linger: DefaultLinger}
}

// Target is one object to wait for.
type Target struct {
	Ref ssa.ObjectRef
	// Unlabelled says that the object may not carry the Watcher's
	// Selector (an object named in a health check that the owner did not
	// apply): it is watched alone, by name.
	Unlabelled bool
	// ResourceVersion, when set, is the object's resourceVersion right
	// after the owner applied it: a copy older than that in the watch
	// (the watch lags behind the write) is not read, as its status
	// describes what was there before.
	ResourceVersion string
}

// Spec is what a wait waits for.
type Spec struct {
	Targets []Target
	// Checks are custom health checks (healthCheckExprs) by kind; kinds
	// without one are read with kstatus.
	Checks []meta.CustomHealthCheck
	// Token names what the owner waits for (such as a digest of the
	// revision and spec it applied): Start with the token of the wait in
	// progress keeps it, with another one replaces it.
	Token string
	// Started is when the wait began; zero means now. An owner that
	// resumes a wait after a restart passes the time it recorded.
	Started time.Time
}

// Result is the health of a wait's objects, as the watches see them now.
type Result struct {
	// Pending are the objects not Current yet, sorted.
	Pending []ssa.ObjectStatus
	// Failed are the objects whose status is Failed, sorted.
	Failed []ssa.ObjectStatus
	// Started is when the wait began.
	Started time.Time
	// Token is the wait's token.
	Token string
}

// Healthy reports whether every object is Current.
func (r Result) Healthy() bool { return len(r.Pending) == 0 && len(r.Failed) == 0 }

type wait struct {
	token     string
	started   time.Time
	targets   []Target
	checks    *ssa.HealthChecks
	informers []*informer // one per target, in order
}

// informerKey names a watch: a kind with the Watcher's selector
// (namespace and name empty), or one object.
type informerKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

type informer struct {
	key    informerKey
	inf    cache.SharedIndexInformer
	err    error // the kind is not served, say
	cancel context.CancelFunc
	users  int
	idle   *time.Timer
}

type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(r ssa.ObjectRef) objectKey {
	return objectKey{group: r.Group, kind: r.Kind, namespace: r.Namespace, name: r.Name}
}

// Events delivers a GenericEvent for an owner (its namespace and name) each
// time an object it waits for changes; connect it to the owner's
// controller with source.Channel and handler.EnqueueRequestForObject.
// Notifications for an owner not yet delivered are coalesced, so a slow
// consumer never blocks the watches.
func (w *Watcher) Events() <-chan event.GenericEvent {
	w.initNotify()
	return w.events
}

func (w *Watcher) initNotify() {
	w.notifyOnce.Do(func() {
		w.events = make(chan event.GenericEvent)
		w.queued = map[types.NamespacedName]bool{}
		w.kick = make(chan struct{}, 1)
		go w.deliver()
	})
}

// deliver sends the queued notifications, one per owner.
func (w *Watcher) deliver() {
	for range w.kick {
		for {
			w.mu.Lock()
			var next types.NamespacedName
			found := false
			for k := range w.queued {
				next, found = k, true
				delete(w.queued, k)
				break
			}
			w.mu.Unlock()
			if !found {
				break
			}
			obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: next.Namespace, Name: next.Name}}
			w.events <- event.GenericEvent{Object: obj}
		}
	}
}

// notifyLocked queues a notification for the owners waiting for o; w.mu
// is held.
func (w *Watcher) notifyLocked(o objectKey) {
	owners := w.waiters[o]
	if len(owners) == 0 {
		return
	}
	for k := range owners {
		w.queued[k] = true
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Start begins the wait of owner for spec, starting the watches it needs.
// A wait of owner with the same token goes on unchanged; one with another
// token is replaced. It returns an error when the custom health checks do
// not compile.
func (w *Watcher) Start(owner types.NamespacedName, spec Spec) error {
	checks, err := ssa.CompileHealthChecks(spec.Checks)
	if err != nil {
		return err
	}
	w.initNotify()
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.waits[owner]; ok {
		if old.token == spec.Token {
			return nil
		}
		w.stopLocked(owner, old)
	}
	w.initLocked()
	started := spec.Started
	if started.IsZero() {
		started = time.Now()
	}
	wt := &wait{token: spec.Token, started: started, targets: append([]Target(nil), spec.Targets...), checks: checks}
	for _, t := range wt.targets {
		k := informerKey{gvk: t.Ref.GroupVersionKind()}
		if t.Unlabelled {
			k.namespace, k.name = t.Ref.Namespace, t.Ref.Name
		}
		inf := w.acquireLocked(k)
		wt.informers = append(wt.informers, inf)
		ok := keyOf(t.Ref)
		if w.waiters[ok] == nil {
			w.waiters[ok] = map[types.NamespacedName]struct{}{}
		}
		w.waiters[ok][owner] = struct{}{}
	}
	w.waits[owner] = wt
	return nil
}

func (w *Watcher) initLocked() {
	if w.waits == nil {
		w.waits = map[types.NamespacedName]*wait{}
		w.informers = map[informerKey]*informer{}
		w.waiters = map[objectKey]map[types.NamespacedName]struct{}{}
		w.retained = map[schema.GroupVersionKind]bool{}
	}
}

// Token returns the token of owner's wait in progress, and whether there
// is one.
func (w *Watcher) Token(owner types.NamespacedName) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt, ok := w.waits[owner]
	if !ok {
		return "", false
	}
	return wt.token, true
}

// Check reads the health of owner's objects from the watches. ok is false
// when owner has no wait in progress.
func (w *Watcher) Check(owner types.NamespacedName) (res Result, ok bool) {
	w.mu.Lock()
	wt, ok := w.waits[owner]
	w.mu.Unlock()
	if !ok {
		return Result{}, false
	}
	res = Result{Started: wt.started, Token: wt.token}
	for i, t := range wt.targets {
		st := statusOf(wt.informers[i], t, wt.checks)
		switch st.Status {
		case status.CurrentStatus:
		case status.FailedStatus:
			res.Failed = append(res.Failed, st)
		default:
			res.Pending = append(res.Pending, st)
		}
	}
	sortStatuses(res.Pending)
	sortStatuses(res.Failed)
	return res, true
}

// Stop ends owner's wait, if any; the watches no other wait needs stop
// after Linger.
func (w *Watcher) Stop(owner types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt, ok := w.waits[owner]; ok {
		w.stopLocked(owner, wt)
	}
}

// Retain keeps the watch of kind gvk (of the objects that carry the
// Selector) running for good, whether a wait needs it or not, so that
// WatchedObject can answer for that kind: an owner's later reconciles then
// learn that its objects are unchanged without a request.
func (w *Watcher) Retain(gvk schema.GroupVersionKind) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.retained[gvk] {
		return
	}
	w.initLocked()
	w.retained[gvk] = true
	w.acquireLocked(informerKey{gvk: gvk})
}

// WatchedObject returns the object ref names from the watch of its kind,
// as the watch has it (stripped of managed fields, data and templates).
// ok is false when no watch of the kind is running and synced, or the
// object is not in it.
func (w *Watcher) WatchedObject(ref ssa.ObjectRef) (metav1.Object, bool) {
	w.mu.Lock()
	inf := w.informers[informerKey{gvk: ref.GroupVersionKind()}]
	w.mu.Unlock()
	if inf == nil || inf.err != nil || !inf.inf.HasSynced() {
		return nil, false
	}
	key := ref.Name
	if ref.Namespace != "" {
		key = ref.Namespace + "/" + ref.Name
	}
	obj, exists, err := inf.inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}

// Watches returns the number of watches running, for tests and metrics.
func (w *Watcher) Watches() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.informers)
}

func (w *Watcher) stopLocked(owner types.NamespacedName, wt *wait) {
	delete(w.waits, owner)
	// A notification not yet delivered would only wake a reconcile that
	// has nothing to wait for.
	delete(w.queued, owner)
	for i, t := range wt.targets {
		ok := keyOf(t.Ref)
		if set := w.waiters[ok]; set != nil {
			delete(set, owner)
			if len(set) == 0 {
				delete(w.waiters, ok)
			}
		}
		w.releaseLocked(wt.informers[i])
	}
}

// acquireLocked returns the running watch of k, starting it when there is
// none.
func (w *Watcher) acquireLocked(k informerKey) *informer {
	if inf, ok := w.informers[k]; ok {
		inf.users++
		if inf.idle != nil {
			inf.idle.Stop()
			inf.idle = nil
		}
		return inf
	}
	inf := &informer{key: k, users: 1}
	w.informers[k] = inf
	mapping, err := w.Mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
	if err != nil {
		inf.err = fmt.Errorf("kind %s is not served: %w", k.gvk.Kind, err)
		return inf
	}
	var ri dynamic.ResourceInterface = w.Dynamic.Resource(mapping.Resource)
	opts := func(o *metav1.ListOptions) {
		o.LabelSelector = w.Selector
	}
	if k.name != "" {
		if k.namespace != "" && mapping.Scope.Name() == apimeta.RESTScopeNameNamespace {
			ri = w.Dynamic.Resource(mapping.Resource).Namespace(k.namespace)
		}
		opts = func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", k.name).String()
		}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			opts(&o)
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			opts(&o)
			return ri.Watch(ctx, o)
		},
	}
	inf.inf = cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	_ = inf.inf.SetTransform(strip)
	gk := k.gvk.GroupKind()
	onChange := func(obj any) {
		if !inf.inf.HasSynced() {
			// Check cannot read the watch yet: the waiters hear once
			// the first List is in (see below).
			return
		}
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		o, ok := obj.(client.Object)
		if !ok {
			return
		}
		w.mu.Lock()
		w.notifyLocked(objectKey{group: gk.Group, kind: gk.Kind, namespace: o.GetNamespace(), name: o.GetName()})
		w.mu.Unlock()
	}
	_, _ = inf.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onChange,
		UpdateFunc: func(_, n any) { onChange(n) },
		DeleteFunc: onChange,
	})
	ctx, cancel := context.WithCancel(context.Background())
	inf.cancel = cancel
	go inf.inf.RunWithContext(ctx)
	// The first List may find every object already there: tell the
	// waiters once it is done, as the adds may come before they exist.
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), inf.inf.HasSynced) {
			w.mu.Lock()
			for ok, owners := range w.waiters {
				if ok.group == gk.Group && ok.kind == gk.Kind && len(owners) > 0 {
					w.notifyLocked(ok)
				}
			}
			w.mu.Unlock()
		}
	}()
	return inf
}

func (w *Watcher) releaseLocked(inf *informer) {
	inf.users--
	if inf.users > 0 {
		return
	}
	stop := func() {
		if inf.cancel != nil {
			inf.cancel()
		}
		if w.informers[inf.key] == inf {
			delete(w.informers, inf.key)
		}
	}
	if w.Linger <= 0 {
		stop()
		return
	}
	inf.idle = time.AfterFunc(w.Linger, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if inf.users == 0 {
			stop()
		}
	})
}

// statusOf reads one object from its watch and computes its health.
func statusOf(inf *informer, t Target, checks *ssa.HealthChecks) ssa.ObjectStatus {
	r := t.Ref
	switch {
	case inf.err != nil:
		return ssa.ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: inf.err.Error()}
	case !inf.inf.HasSynced():
		return ssa.ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: "not read yet"}
	}
	key := r.Name
	if r.Namespace != "" {
		key = r.Namespace + "/" + r.Name
	}
	obj, exists, err := inf.inf.GetStore().GetByKey(key)
	if err != nil {
		return ssa.ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: err.Error()}
	}
	if !exists {
		return ssa.ObjectStatus{Ref: r, Status: status.NotFoundStatus, Message: "object not found"}
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return ssa.ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: fmt.Sprintf("unexpected %T in the watch", obj)}
	}
	if older(u.GetResourceVersion(), t.ResourceVersion) {
		return ssa.ObjectStatus{Ref: r, Status: status.InProgressStatus, Message: "the watch has not seen the applied object yet"}
	}
	s, msg := checks.Status(u)
	return ssa.ObjectStatus{Ref: r, Status: s, Message: msg}
}

// strip keeps what health needs of an object: its metadata without
// managedFields and the last-applied annotation, its status, and its spec
// without pod templates (kstatus reads spec.replicas, spec.updateStrategy
// and the like); the data of ConfigMaps and Secrets goes too. The
// watches then cost little memory per object.
func strip(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(u.Object, "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration")
	for _, f := range []string{"data", "binaryData", "stringData"} {
		delete(u.Object, f)
	}
	for _, f := range []string{"template", "jobTemplate", "volumeClaimTemplates"} {
		unstructured.RemoveNestedField(u.Object, "spec", f)
	}
	return u, nil
}

// older reports whether resourceVersion have is older than want. The API
// server's resourceVersions are integers that grow with each write (and
// may be compared so since Kubernetes 1.35); anything else is taken as
// not older.
func older(have, want string) bool {
	if want == "" || have == want {
		return false
	}
	h, err1 := strconv.ParseUint(have, 10, 64)
	w, err2 := strconv.ParseUint(want, 10, 64)
	return err1 == nil && err2 == nil && h < w
}

func sortStatuses(s []ssa.ObjectStatus) {
	sort.Slice(s, func(i, j int) bool { return s[i].Ref.String() < s[j].Ref.String() })
}

// Summary says what a wait still waits for, at most limit objects by
// name: "2 objects: Deployment/shop/web (Available: 1/3), ...".
func Summary(pending []ssa.ObjectStatus, limit int) string {
	var b strings.Builder
	n := len(pending)
	if n == 1 {
		b.WriteString("1 object: ")
	} else {
		fmt.Fprintf(&b, "%d objects: ", n)
	}
	for i, p := range pending {
		if i == limit {
			fmt.Fprintf(&b, ", and %d more", n-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Ref.String())
		if p.Message != "" {
			fmt.Fprintf(&b, " (%s)", p.Message)
		} else {
			fmt.Fprintf(&b, " (%s)", p.Status)
		}
	}
	return b.String()
}
