package install

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Finalizer is the finalizer gotk's controllers put on their objects.
const Finalizer = "finalizers.fluxcd.io"

// NamespaceCount is how many objects of a kind live in one namespace.
type NamespaceCount struct {
	Namespace string
	Count     int
}

// KindCount lists where the objects of one gotk kind live.
type KindCount struct {
	GVK        schema.GroupVersionKind
	Namespaces []NamespaceCount
}

// Total is the number of objects of the kind.
func (k KindCount) Total() int {
	n := 0
	for _, ns := range k.Namespaces {
		n += ns.Count
	}
	return n
}

// Inventory is what an uninstall finds in the cluster.
type Inventory struct {
	Namespace string
	// Custom counts the gotk objects (GitRepositories, Kustomizations...)
	// that deleting the CRDs deletes, for the kinds that have any.
	Custom []KindCount
	// Installed are the objects of the install, in the order they are
	// deleted: Deployments, Services, NetworkPolicies, RBAC, CRDs and the
	// namespace last.
	Installed []ObjectRef
	// ForeignNamespace is true when the namespace exists but gotk did not
	// create it (it lacks the gotk labels), so uninstall leaves it.
	ForeignNamespace bool
}

// HasCustomObjects reports whether any gotk object exists.
func (inv *Inventory) HasCustomObjects() bool { return len(inv.Custom) > 0 }

// namespacedKinds are the namespaced kinds that Install creates in the gotk
// namespace, in deletion order.
var namespacedKinds = []schema.GroupVersionKind{
	appsv1.SchemeGroupVersion.WithKind("Deployment"),
	corev1.SchemeGroupVersion.WithKind("Service"),
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
}

var clusterKinds = []schema.GroupVersionKind{
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
}

var crdGVK = apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")

// Discover finds the install in namespace and counts the gotk objects in
// every namespace. It changes nothing.
func Discover(ctx context.Context, c client.Client, namespace string) (*Inventory, error) {
	inv := &Inventory{Namespace: namespace}
	partOf := client.MatchingLabels{PartOfLabel: PartOfValue}
	for _, gvk := range namespacedKinds {
		refs, err := listRefs(ctx, c, gvk, client.InNamespace(namespace), partOf)
		if err != nil {
			return nil, err
		}
		inv.Installed = append(inv.Installed, refs...)
	}
	for _, gvk := range clusterKinds {
		refs, err := listRefs(ctx, c, gvk, partOf, client.MatchingLabels{InstanceLabel: namespace})
		if err != nil {
			return nil, err
		}
		inv.Installed = append(inv.Installed, refs...)
	}
	crds, err := installedCRDs(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, crd := range crds {
		inv.Installed = append(inv.Installed, ObjectRef{GVK: crdGVK, Name: crd.Name})
		counts, err := countObjects(ctx, c, StorageGVK(crd))
		if err != nil {
			return nil, err
		}
		if counts.Total() > 0 {
			inv.Custom = append(inv.Custom, counts)
		}
	}
	ns := &corev1.Namespace{}
	// The namespace goes only when gotk created it: never a namespace that
	// merely holds a gotk install, such as default.
	switch err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); {
	case err == nil && ns.Labels[PartOfLabel] == PartOfValue:
		inv.Installed = append(inv.Installed, ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Name: namespace})
	case err == nil:
		inv.ForeignNamespace = true
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("read namespace %s: %w", namespace, err)
	}
	return inv, nil
}

// installedCRDs are the CRDs of this binary that exist in the cluster.
func installedCRDs(ctx context.Context, c client.Client) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	want, err := CRDs()
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, w := range want {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: w.Name}, crd); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("read CRD %s: %w", w.Name, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

func listRefs(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, opts ...client.ListOption) ([]ObjectRef, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("list %ss: %w", gvk.Kind, err)
	}
	var out []ObjectRef
	for _, item := range list.Items {
		out = append(out, ObjectRef{GVK: gvk, Namespace: item.Namespace, Name: item.Name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func listMeta(ctx context.Context, c client.Client, gvk schema.GroupVersionKind) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %ss in every namespace: %w", gvk.Kind, err)
	}
	return list.Items, nil
}

func countObjects(ctx context.Context, c client.Client, gvk schema.GroupVersionKind) (KindCount, error) {
	items, err := listMeta(ctx, c, gvk)
	if err != nil {
		return KindCount{}, err
	}
	per := map[string]int{}
	for _, it := range items {
		per[it.Namespace]++
	}
	kc := KindCount{GVK: gvk}
	for ns, n := range per {
		kc.Namespaces = append(kc.Namespaces, NamespaceCount{Namespace: ns, Count: n})
	}
	sort.Slice(kc.Namespaces, func(i, j int) bool { return kc.Namespaces[i].Namespace < kc.Namespaces[j].Namespace })
	return kc, nil
}

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	KeepNamespace bool
	// Timeout bounds each wait (controller pods gone, CRDs gone);
	// DefaultTimeout when zero.
	Timeout time.Duration
	// Interval between polls; half a second when zero.
	Interval time.Duration
	// OnStep, when set, is told each thing done, in words.
	OnStep func(string)
}

// Uninstall removes what Discover found. It stops the controllers first,
// then takes the gotk finalizer off every gotk object so that deleting the
// CRDs neither hangs nor lets a controller prune what the objects applied,
// then deletes the rest. Workloads that Kustomizations and HelmReleases
// applied stay where they are.
func Uninstall(ctx context.Context, c client.Client, inv *Inventory, opts UninstallOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Interval <= 0 {
		opts.Interval = 500 * time.Millisecond
	}
	step := func(format string, args ...any) {
		if opts.OnStep != nil {
			opts.OnStep(fmt.Sprintf(format, args...))
		}
	}
	del := func(r ObjectRef) error {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(r.GVK)
		obj.SetNamespace(r.Namespace)
		obj.SetName(r.Name)
		err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", r, err)
		}
		step("deleted %s", r)
		return nil
	}
	isKind := func(r ObjectRef, kinds ...string) bool { return slices.Contains(kinds, r.GVK.Kind) }

	// 1. Stop the controllers, so that none acts on a deleted object.
	for _, r := range inv.Installed {
		if isKind(r, "Deployment") {
			if err := del(r); err != nil {
				return err
			}
		}
	}
	if err := waitPodsGone(ctx, c, inv.Namespace, opts); err != nil {
		step("warning: %v; going on", err)
	}

	// 2. Take the finalizer off every gotk object.
	crds, err := installedCRDs(ctx, c)
	if err != nil {
		return err
	}
	if err := removeFinalizers(ctx, c, crds, step); err != nil {
		return err
	}

	// 3. Services, NetworkPolicies and RBAC.
	for _, r := range inv.Installed {
		if !isKind(r, "Deployment", "CustomResourceDefinition", "Namespace") {
			if err := del(r); err != nil {
				return err
			}
		}
	}

	// 4. The CRDs, which delete every gotk object; wait until they are
	// gone, taking off any finalizer that appeared meanwhile.
	for _, r := range inv.Installed {
		if isKind(r, "CustomResourceDefinition") {
			if err := del(r); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(opts.Timeout)
	for {
		left, err := installedCRDs(ctx, c)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var names []string
			for _, crd := range left {
				names = append(names, crd.Name)
			}
			return fmt.Errorf("CRDs still present after %s: %v; look at their status.conditions (kubectl get crd NAME -o yaml)", opts.Timeout, names)
		}
		if err := removeFinalizers(ctx, c, left, step); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.Interval):
		}
	}

	// 5. The namespace.
	if !opts.KeepNamespace {
		for _, r := range inv.Installed {
			if isKind(r, "Namespace") {
				if err := del(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeFinalizers takes Finalizer off every object of the CRDs' kinds.
func removeFinalizers(ctx context.Context, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition, step func(string, ...any)) error {
	for _, crd := range crds {
		gvk := StorageGVK(crd)
		items, err := listMeta(ctx, c, gvk)
		if err != nil {
			return err
		}
		for i := range items {
			if !slices.Contains(items[i].Finalizers, Finalizer) {
				continue
			}
			ref := ObjectRef{GVK: gvk, Namespace: items[i].Namespace, Name: items[i].Name}
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				obj := &metav1.PartialObjectMetadata{}
				obj.SetGroupVersionKind(gvk)
				if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
					return err
				}
				orig := obj.DeepCopy()
				obj.Finalizers = slices.DeleteFunc(obj.Finalizers, func(f string) bool { return f == Finalizer })
				return c.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
			})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove finalizer %s from %s: %w", Finalizer, ref, err)
			}
			step("removed finalizer from %s", ref)
		}
	}
	return nil
}

// waitPodsGone waits until no gotk pod runs in namespace.
func waitPodsGone(ctx context.Context, c client.Client, namespace string, opts UninstallOptions) error {
	deadline := time.Now().Add(opts.Timeout)
	for {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{PartOfLabel: PartOfValue}); err != nil {
			return fmt.Errorf("list controller pods in %s: %w", namespace, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d controller pods still running in %s after %s", len(pods.Items), namespace, opts.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.Interval):
		}
	}
}
