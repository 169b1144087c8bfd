package kustomization

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/health"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
)

// Index keys: the source a Kustomization reads ("Kind/namespace/name") and
// the Kustomizations it depends on ("namespace/name").
const (
	sourceIndex    = ".spec.sourceRef"
	dependsOnIndex = ".spec.dependsOn"
	// configIndex: the ConfigMaps and Secrets a Kustomization reads, those
	// of substituteFrom and the kubeconfig Secret of spec.kubeConfig
	// ("Kind/namespace/name").
	configIndex = ".spec.configRefs"
)

// SetupWithManager registers the reconciler, its indexes and watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &kustomizev1.Kustomization{}, sourceIndex, func(o client.Object) []string {
		k := o.(*kustomizev1.Kustomization)
		return []string{sourceKey(k.Spec.SourceRef.Kind, k.GetSourceNamespace(), k.Spec.SourceRef.Name)}
	}); err != nil {
		return fmt.Errorf("index %s: %w", sourceIndex, err)
	}
	if err := indexer.IndexField(ctx, &kustomizev1.Kustomization{}, dependsOnIndex, func(o client.Object) []string {
		k := o.(*kustomizev1.Kustomization)
		keys := make([]string, 0, len(k.Spec.DependsOn))
		for _, d := range k.Spec.DependsOn {
			ns := d.Namespace
			if ns == "" {
				ns = k.Namespace
			}
			keys = append(keys, ns+"/"+d.Name)
		}
		return keys
	}); err != nil {
		return fmt.Errorf("index %s: %w", dependsOnIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(r.Options.WatchLabelSelector)
	if err != nil {
		return err
	}
	// The selector filters the Kustomizations that the source and
	// dependency watches enqueue too: a shard must never reconcile
	// another shard's objects because their source changed.
	r.selector = labels.Everything()
	if sel := r.Options.WatchLabelSelector; sel != "" {
		if r.selector, err = labels.Parse(sel); err != nil {
			return fmt.Errorf("--watch-label-selector %q: %w", sel, err)
		}
	}
	if r.Health == nil {
		dyn, err := dynamic.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return fmt.Errorf("health watches: %w", err)
		}
		r.Health = health.New(dyn, mgr.GetRESTMapper(), kustomizev1.NameLabel)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&kustomizev1.Kustomization{}, builder.WithPredicates(pred)).
		Watches(&kustomizev1.Kustomization{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(readyChanged{})).
		// A HelmRelease that a Kustomization depends on became Ready.
		Watches(&helmv2.HelmRelease{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(becameReady{})).
		// The objects a Kustomization waits for: one of them changed.
		WatchesRawSource(source.Channel(r.Health.Events(), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrent})
	for _, src := range []client.Object{&sourcev1.GitRepository{}, &sourcev1.OCIRepository{}, &sourcev1.Bucket{}, &sourcev1.ExternalArtifact{}} {
		kind := sourceKind(src)
		b = b.Watches(src, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.consumers(ctx, kind, o)
		}), builder.WithPredicates(runtime.ArtifactChangedPredicate{}))
	}
	if !r.Options.DisableConfigWatchers {
		configs, err := r.Options.ConfigSelector()
		if err != nil {
			return err
		}
		if err := indexer.IndexField(ctx, &kustomizev1.Kustomization{}, configIndex, func(o client.Object) []string {
			return configKeys(o.(*kustomizev1.Kustomization))
		}); err != nil {
			return fmt.Errorf("index %s: %w", configIndex, err)
		}
		for _, cfg := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
			kind := "ConfigMap"
			if _, ok := cfg.(*corev1.Secret); ok {
				kind = "Secret"
			}
			b = b.Watches(cfg, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
				return r.configUsers(ctx, kind, o)
			}), builder.WithPredicates(configChanged{selector: configs}))
		}
	}
	return b.Complete(r)
}

// configKeys are the index keys of the ConfigMaps and Secrets k reads:
// those of substituteFrom, its kubeconfig Secret and its decryption
// Secret, so that a cluster whose kubeconfig is written after its
// Kustomization, or rotated keys, are reconciled at once when the Secret
// carries the watch label.
func configKeys(k *kustomizev1.Kustomization) []string {
	var keys []string
	if pb := k.Spec.PostBuild; pb != nil {
		for _, ref := range pb.SubstituteFrom {
			keys = append(keys, sourceKey(ref.Kind, k.Namespace, ref.Name))
		}
	}
	if kc := k.Spec.KubeConfig; kc != nil && kc.SecretRef != nil {
		keys = append(keys, sourceKey("Secret", k.Namespace, kc.SecretRef.Name))
	}
	if d := k.Spec.Decryption; d != nil && d.SecretRef != nil {
		keys = append(keys, sourceKey("Secret", k.Namespace, d.SecretRef.Name))
	}
	return keys
}

// configUsers lists the Kustomizations that read a watched ConfigMap or
// Secret that changed (substituteFrom, spec.kubeConfig, spec.decryption).
func (r *Reconciler) configUsers(ctx context.Context, kind string, o client.Object) []reconcile.Request {
	list := &kustomizev1.KustomizationList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{configIndex: sourceKey(kind, o.GetNamespace(), o.GetName())}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, k := range list.Items {
		if r.selects(&k) && !k.Spec.Suspend {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&k)})
		}
	}
	return reqs
}

// configChanged passes the ConfigMaps and Secrets that carry the watch
// label (--watch-configs-label-selector) when they appear, go, or change
// their data or labels; a change to annotations alone passes nothing.
type configChanged struct {
	predicate.Funcs
	selector labels.Selector
}

func (p configChanged) watched(o client.Object) bool {
	return p.selector.Matches(labels.Set(o.GetLabels()))
}

func (p configChanged) Create(e event.CreateEvent) bool { return p.watched(e.Object) }
func (p configChanged) Delete(e event.DeleteEvent) bool { return p.watched(e.Object) }
func (configChanged) Generic(event.GenericEvent) bool   { return false }

func (p configChanged) Update(e event.UpdateEvent) bool {
	if !p.watched(e.ObjectNew) {
		return false
	}
	if !p.watched(e.ObjectOld) {
		return true // just labelled: its values may be new to the watchers
	}
	switch n := e.ObjectNew.(type) {
	case *corev1.ConfigMap:
		o, ok := e.ObjectOld.(*corev1.ConfigMap)
		return !ok || !equality.Semantic.DeepEqual(o.Data, n.Data) || !equality.Semantic.DeepEqual(o.BinaryData, n.BinaryData)
	case *corev1.Secret:
		o, ok := e.ObjectOld.(*corev1.Secret)
		return !ok || !equality.Semantic.DeepEqual(o.Data, n.Data) || !equality.Semantic.DeepEqual(o.StringData, n.StringData)
	}
	return true
}

func sourceKind(o client.Object) string {
	switch o.(type) {
	case *sourcev1.GitRepository:
		return sourcev1.GitRepositoryKind
	case *sourcev1.OCIRepository:
		return sourcev1.OCIRepositoryKind
	case *sourcev1.ExternalArtifact:
		return sourcev1.ExternalArtifactKind
	default:
		return sourcev1.BucketKind
	}
}

func sourceKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// consumers lists the Kustomizations that read a source whose artifact
// changed, and ends their health waits: the new revision supersedes them.
func (r *Reconciler) consumers(ctx context.Context, kind string, o client.Object) []reconcile.Request {
	list := &kustomizev1.KustomizationList{}
	if err := r.List(ctx, list, client.MatchingFields{sourceIndex: sourceKey(kind, o.GetNamespace(), o.GetName())}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	keys := make([]types.NamespacedName, 0, len(list.Items))
	for _, k := range list.Items {
		if !r.selects(&k) {
			continue
		}
		key := client.ObjectKeyFromObject(&k)
		keys = append(keys, key)
		reqs = append(reqs, reconcile.Request{NamespacedName: key})
	}
	r.cancelWaits(keys)
	return reqs
}

// dependents lists the Kustomizations that depend on o.
func (r *Reconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	list := &kustomizev1.KustomizationList{}
	if err := r.List(ctx, list, client.MatchingFields{dependsOnIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, k := range list.Items {
		if r.selects(&k) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&k)})
		}
	}
	return reqs
}

// selects reports whether k matches --watch-label-selector.
func (r *Reconciler) selects(k *kustomizev1.Kustomization) bool {
	return r.selector == nil || r.selector.Matches(labels.Set(k.Labels))
}

// readyChanged passes a Kustomization that became Ready or applied a new
// revision: what its dependents wait for.
type readyChanged struct{ predicate.Funcs }

func (readyChanged) Create(event.CreateEvent) bool   { return false }
func (readyChanged) Delete(event.DeleteEvent) bool   { return false }
func (readyChanged) Generic(event.GenericEvent) bool { return false }

func (readyChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*kustomizev1.Kustomization)
	n, ok2 := e.ObjectNew.(*kustomizev1.Kustomization)
	if !ok1 || !ok2 || !runtime.IsReady(n) {
		return false
	}
	return !runtime.IsReady(o) || o.Status.LastAppliedRevision != n.Status.LastAppliedRevision
}

// becameReady passes an object of another kind (a HelmRelease) that
// became Ready: what the Kustomizations that depend on it wait for.
type becameReady struct{ predicate.Funcs }

func (becameReady) Create(event.CreateEvent) bool   { return false }
func (becameReady) Delete(event.DeleteEvent) bool   { return false }
func (becameReady) Generic(event.GenericEvent) bool { return false }

func (becameReady) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(runtime.Object)
	n, ok2 := e.ObjectNew.(runtime.Object)
	return ok1 && ok2 && runtime.IsReady(n) && !runtime.IsReady(o)
}

// reconcileDelete applies spec.deletionPolicy to the inventory, then
// removes the finalizer. A suspended Kustomization leaves its objects, and
// so does one whose identity is gone (its service account or kubeconfig
// Secret deleted, as when its namespace is deleted): nobody is left who
// may delete them, and an event lists what stays.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *kustomizev1.Kustomization) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, meta.Finalizer) {
		return ctrl.Result{}, nil
	}
	policy := obj.GetDeletionPolicy()
	if obj.PruneOnDelete() && !obj.Spec.Suspend && obj.Status.Inventory != nil && len(obj.Status.Inventory.Entries) > 0 {
		refs, err := ssa.InventoryRefs(obj.Status.Inventory)
		if err != nil {
			return ctrl.Result{}, err
		}
		if gone := r.identityGone(ctx, obj); gone != "" {
			r.eventf(obj, runtime.SeverityError, meta.DeletingReason,
				"%s: the %d objects of the inventory are left in the cluster", gone, len(refs))
		} else {
			c, _, err := clientFor(ctx, r.Clients, obj)
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("delete objects of Kustomization %s/%s: %w", obj.Namespace, obj.Name, err)
			}
			m := ssa.New(c, kustomizev1.FieldManager, ssa.KustomizationOwner(obj.Name, obj.Namespace))
			m.Concurrency = r.applyConcurrency()
			opts := ssa.DeleteOptions{Action: ssa.ActionDeleted}
			if policy == kustomizev1.DeletionPolicyWaitForTermination {
				opts.WaitTimeout = obj.GetTimeout()
			}
			cs, err := m.Delete(ctx, refs, opts)
			var notGone *ssa.NotGoneError
			if errors.As(err, &notGone) {
				// As Flux documents it: WaitForTermination waits for
				// spec.timeout at most, then lets the Kustomization go.
				r.eventf(obj, runtime.SeverityError, meta.DeletingReason,
					"deletionPolicy WaitForTermination: %d objects still exist after spec.timeout (%s), the finalizer is removed anyway: %s",
					len(notGone.Left), obj.GetTimeout(), refList(notGone.Left))
				err = nil
			}
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("delete objects of Kustomization %s/%s: %w", obj.Namespace, obj.Name, err)
			}
			if cs.Changed() {
				r.eventf(obj, runtime.SeverityInfo, meta.DeletingReason, "%s", cs.String())
			}
		}
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(obj, meta.Finalizer)
	r.forget(client.ObjectKeyFromObject(obj))
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}

// forget drops what the reconciler holds for a Kustomization that is gone
// or going: its health wait, its apply cache, its last build, its metrics
// and its client.
func (r *Reconciler) forget(key types.NamespacedName) {
	if r.Health != nil {
		r.Health.Stop(key)
	}
	r.caches.Delete(key)
	r.builds.forget(key)
	if r.Metrics != nil {
		r.Metrics.Forget(kustomizev1.KustomizationKind, key.Namespace, key.Name)
	}
	if r.Clients != nil {
		r.Clients.Forget(key)
	}
}

// refList names objects, "Kind/namespace/name", separated by commas.
func refList(refs []ssa.ObjectRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// identityGone says why the objects of obj cannot be deleted any more:
// the service account it impersonates, or its kubeconfig Secret, no
// longer exists. It returns "" when they can.
func (r *Reconciler) identityGone(ctx context.Context, obj *kustomizev1.Kustomization) string {
	if kc := obj.Spec.KubeConfig; kc != nil && kc.SecretRef != nil {
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: kc.SecretRef.Name}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("spec.kubeConfig: Secret '%s/%s' not found", obj.Namespace, kc.SecretRef.Name)
		}
		return ""
	}
	sa := obj.Spec.ServiceAccountName
	if sa == "" && r.Clients != nil {
		sa = r.Clients.DefaultServiceAccount
	}
	if sa == "" {
		return ""
	}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: sa}, &corev1.ServiceAccount{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("service account '%s/%s' not found", obj.Namespace, sa)
	}
	return ""
}

// eventf records an event when the reconciler has a recorder.
func (r *Reconciler) eventf(obj *kustomizev1.Kustomization, severity, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, severity, reason, format, args...)
	}
}
