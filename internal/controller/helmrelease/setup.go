package helmrelease

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// Index keys of HelmReleases.
const (
	// chartIndex: "Kind/namespace/name" of the HelmChart, OCIRepository
	// or ExternalArtifact whose artifact a HelmRelease reads.
	chartIndex = ".spec.chartKey"
	// dependsOnIndex: "namespace/name" of the HelmReleases it depends on.
	dependsOnIndex = ".spec.dependsOn"
	// valuesIndex: "Kind/namespace/name" of the ConfigMaps and Secrets of
	// valuesFrom.
	valuesIndex = ".spec.valuesFrom"
)

// SetupWithManager registers the reconciler, its indexes and watches.
// ConfigMaps and Secrets are watched by their metadata alone, in a cache
// of their own that holds no data: a change to one that a HelmRelease's
// valuesFrom names reconciles that HelmRelease at once, and the values
// digest decides whether it upgrades.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &helmv2.HelmRelease{}, chartIndex, func(o client.Object) []string {
		return []string{chartKey(o.(*helmv2.HelmRelease))}
	}); err != nil {
		return fmt.Errorf("index %s: %w", chartIndex, err)
	}
	if err := indexer.IndexField(ctx, &helmv2.HelmRelease{}, dependsOnIndex, func(o client.Object) []string {
		hr := o.(*helmv2.HelmRelease)
		keys := make([]string, 0, len(hr.Spec.DependsOn))
		for _, d := range hr.Spec.DependsOn {
			ns := d.Namespace
			if ns == "" {
				ns = hr.Namespace
			}
			keys = append(keys, ns+"/"+d.Name)
		}
		return keys
	}); err != nil {
		return fmt.Errorf("index %s: %w", dependsOnIndex, err)
	}
	if err := indexer.IndexField(ctx, &helmv2.HelmRelease{}, valuesIndex, func(o client.Object) []string {
		hr := o.(*helmv2.HelmRelease)
		keys := make([]string, 0, len(hr.Spec.ValuesFrom))
		for _, v := range hr.Spec.ValuesFrom {
			keys = append(keys, v.Kind+"/"+hr.Namespace+"/"+v.Name)
		}
		return keys
	}); err != nil {
		return fmt.Errorf("index %s: %w", valuesIndex, err)
	}
	pred, err := runtime.ReconcilePredicate(r.Options.WatchLabelSelector)
	if err != nil {
		return err
	}
	r.selector = labels.Everything()
	if sel := r.Options.WatchLabelSelector; sel != "" {
		if r.selector, err = labels.Parse(sel); err != nil {
			return fmt.Errorf("--watch-label-selector %q: %w", sel, err)
		}
	}
	if r.Mapper == nil {
		r.Mapper = mgr.GetRESTMapper()
	}
	if r.Capabilities == nil {
		if r.Capabilities, err = sharedCapabilities(mgr); err != nil {
			return err
		}
	}
	if r.Health == nil {
		dyn, err := dynamic.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return fmt.Errorf("health watches: %w", err)
		}
		r.Health = health.New(dyn, mgr.GetRESTMapper(), HelmManagedSelector)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("helmrelease").
		For(&helmv2.HelmRelease{}, builder.WithPredicates(pred)).
		Watches(&sourcev1.HelmChart{}, handler.EnqueueRequestsFromMapFunc(r.chartUsers(sourcev1.HelmChartKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		Watches(&sourcev1.OCIRepository{}, handler.EnqueueRequestsFromMapFunc(r.chartUsers(sourcev1.OCIRepositoryKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		Watches(&sourcev1.ExternalArtifact{}, handler.EnqueueRequestsFromMapFunc(r.chartUsers(sourcev1.ExternalArtifactKind)),
			builder.WithPredicates(runtime.ArtifactChangedPredicate{})).
		Watches(&helmv2.HelmRelease{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(readyChanged{})).
		Watches(&kustomizev1.Kustomization{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(readyChanged{})).
		// The objects a release waits for: one of them changed.
		WatchesRawSource(source.Channel(r.Health.Events(), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrent})
	if !r.Options.DisableConfigWatchers {
		metaCache, err := r.metadataCache(mgr)
		if err != nil {
			return err
		}
		for _, kind := range []string{"ConfigMap", "Secret"} {
			obj := &metav1.PartialObjectMetadata{}
			obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
			b = b.WatchesRawSource(source.Kind(metaCache, obj,
				handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *metav1.PartialObjectMetadata) []reconcile.Request {
					return r.valuesUsers(ctx, kind, o)
				}), versionChanged{}))
		}
	}
	return b.Complete(r)
}

// capabilitiesMaxAge bounds how long the shared capabilities are kept
// when no CustomResourceDefinition or APIService changes.
const capabilitiesMaxAge = 5 * time.Minute

// sharedCapabilities returns the capabilities of the controller's cluster
// for the releases in it, read again whenever a CustomResourceDefinition
// or an APIService is created, changed or deleted (the manager's cache
// watches their metadata).
func sharedCapabilities(mgr ctrl.Manager) (*release.Capabilities, error) {
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	caps := &release.Capabilities{Discovery: dc, MaxAge: capabilitiesMaxAge}
	invalidate := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { caps.Invalidate() },
		UpdateFunc: func(any, any) { caps.Invalidate() },
		DeleteFunc: func(any) { caps.Invalidate() },
	}
	for _, gvk := range []schema.GroupVersionKind{
		apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"),
		{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"},
	} {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		inf, err := mgr.GetCache().GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", gvk.Kind, err)
		}
		if _, err := inf.AddEventHandler(invalidate); err != nil {
			return nil, fmt.Errorf("watch %s: %w", gvk.Kind, err)
		}
	}
	return caps, nil
}

// metadataCache returns a cache of ConfigMap and Secret metadata (no
// data, no managed fields), started with the manager. Helm's release
// Secrets are left out: valuesFrom never names one, and each install or
// upgrade writes two or three of them.
func (r *Reconciler) metadataCache(mgr ctrl.Manager) (cache.Cache, error) {
	secrets := &metav1.PartialObjectMetadata{}
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	opts := cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		HTTPClient:       mgr.GetHTTPClient(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			secrets: {Field: fields.OneTermNotEqualSelector("type", string(release.SecretType))},
		},
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("metadata cache of ConfigMaps and Secrets: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// versionChanged passes ConfigMaps and Secrets that appear or change.
type versionChanged struct {
	predicate.TypedFuncs[*metav1.PartialObjectMetadata]
}

func (versionChanged) Create(event.TypedCreateEvent[*metav1.PartialObjectMetadata]) bool { return true }
func (versionChanged) Delete(event.TypedDeleteEvent[*metav1.PartialObjectMetadata]) bool { return true }
func (versionChanged) Generic(event.TypedGenericEvent[*metav1.PartialObjectMetadata]) bool {
	return false
}
func (versionChanged) Update(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
	return e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion()
}

// valuesUsers lists the HelmReleases whose valuesFrom names o.
func (r *Reconciler) valuesUsers(ctx context.Context, kind string, o client.Object) []reconcile.Request {
	list := &helmv2.HelmReleaseList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{valuesIndex: kind + "/" + o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	return r.requests(list.Items)
}

// chartKey is the "Kind/namespace/name" of the object whose chart
// artifact hr reads: the HelmChart of spec.chart, or spec.chartRef.
func chartKey(hr *helmv2.HelmRelease) string {
	switch {
	case hr.Spec.Chart != nil:
		return sourcev1.HelmChartKind + "/" + hr.Spec.Chart.GetNamespace(hr.Namespace) + "/" + hr.GetHelmChartName()
	case hr.Spec.ChartRef != nil:
		ns := hr.Spec.ChartRef.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		return hr.Spec.ChartRef.Kind + "/" + ns + "/" + hr.Spec.ChartRef.Name
	}
	return ""
}

// chartUsers returns the function that lists the HelmReleases reading the
// artifact of a kind's object, whose artifact changed.
func (r *Reconciler) chartUsers(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &helmv2.HelmReleaseList{}
		if err := r.List(ctx, list, client.MatchingFields{chartIndex: kind + "/" + o.GetNamespace() + "/" + o.GetName()}); err != nil {
			return nil
		}
		return r.requests(list.Items)
	}
}

// dependents lists the HelmReleases that depend on o.
func (r *Reconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	list := &helmv2.HelmReleaseList{}
	if err := r.List(ctx, list, client.MatchingFields{dependsOnIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	return r.requests(list.Items)
}

func (r *Reconciler) requests(items []helmv2.HelmRelease) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(items))
	for i := range items {
		if r.selects(&items[i]) && !items[i].Spec.Suspend {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
		}
	}
	return reqs
}

// readyChanged passes a HelmRelease or Kustomization that became Ready:
// what the HelmReleases that depend on it wait for.
type readyChanged struct{ predicate.Funcs }

func (readyChanged) Create(event.CreateEvent) bool   { return false }
func (readyChanged) Delete(event.DeleteEvent) bool   { return false }
func (readyChanged) Generic(event.GenericEvent) bool { return false }
func (readyChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(runtime.Object)
	n, ok2 := e.ObjectNew.(runtime.Object)
	return ok1 && ok2 && runtime.IsReady(n) && !runtime.IsReady(o)
}

// reconcileDelete uninstalls the release (unless the HelmRelease is
// suspended), deletes the HelmChart that spec.chart made, then removes
// the finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *helmv2.HelmRelease) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, meta.Finalizer) {
		return ctrl.Result{}, nil
	}
	if !obj.Spec.Suspend {
		runner, err := r.newRunner(ctx, obj)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("uninstall release of HelmRelease %s/%s: %w", obj.Namespace, obj.Name, err)
		}
		last, err := runner.Last()
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("uninstall release of HelmRelease %s/%s: %w", obj.Namespace, obj.Name, err)
		}
		if last != nil && last.Info.Status.String() != "uninstalled" {
			if err := runner.Uninstall(obj); err != nil {
				r.eventf(obj, runtime.SeverityError, helmv2.UninstallFailedReason, "Helm uninstall failed for release %s: %s", fullName(last), cleanError(err))
				return ctrl.Result{}, fmt.Errorf("uninstall release %s: %w", fullName(last), err)
			}
			r.eventf(obj, runtime.SeverityInfo, helmv2.UninstallSucceededReason,
				"Helm uninstall succeeded for release %s with chart %s", fullName(last), chartOf(last))
			r.forgetDrift(obj)
		}
	}
	if err := r.deleteOwnHelmChart(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	patcher, err := runtime.NewPatcher(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(obj, meta.Finalizer)
	r.forget(client.ObjectKeyFromObject(obj))
	return ctrl.Result{}, client.IgnoreNotFound(patcher.Patch(ctx, obj))
}
