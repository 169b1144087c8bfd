package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/controller/helmrelease"
	"github.com/gotk-dev/gotk/internal/helm/release"
)

// maxTraceDepth bounds the chain of Kustomizations that applied each
// other.
const maxTraceDepth = 10

func newTraceCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace KIND NAME | trace KIND/NAME",
		Short: "Show which Kustomization or HelmRelease applied an object, from which source and revision",
		Long: `Trace an object of any kind back to gotk: the Kustomization that applied it
(from the object's kustomize.toolkit.fluxcd.io/name and /namespace labels),
with its path, revision and Ready status, and that Kustomization's source,
with its URL, reference, revision and Ready status; or the HelmRelease whose
release it belongs to (from its helm.toolkit.fluxcd.io/name and /namespace
labels, or the meta.helm.sh/release-name and /release-namespace annotations
Helm sets), with its release, chart version and Ready status, its HelmChart
and the HelmChart's source. When the Kustomization or HelmRelease was itself
applied by another one, the trace goes on up the chain.

KIND is a kind, resource or short name as kubectl takes them (Deployment,
deployment, deploy, deployments.apps).`,
		Example: `  # Where does the web Deployment come from?
  gotk trace deployment web -n web

  # The same
  gotk trace Deployment/web -n web

  # A cluster-scoped object
  gotk trace namespace web

  # A Deployment of a Helm release
  gotk trace deployment podinfo -n apps`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && strings.Contains(args[0], "/") || len(args) == 2 {
				return nil
			}
			return fmt.Errorf("trace needs an object: gotk trace KIND NAME or gotk trace KIND/NAME")
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return traceKinds(toComplete), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := "", ""
			if len(args) == 2 {
				kind, name = args[0], args[1]
			} else {
				kind, name, _ = strings.Cut(args[0], "/")
			}
			return runTrace(cmd.Context(), c, kind, name, c.objectNamespace(cmd))
		},
	}
	return cmd
}

// traceKinds completes the kinds users trace most.
func traceKinds(prefix string) []cobra.Completion {
	kinds := []string{"deployment", "statefulset", "daemonset", "service", "configmap", "secret", "namespace",
		"ingress", "serviceaccount", "customresourcedefinition", "kustomization", "helmrelease"}
	var out []cobra.Completion
	for _, k := range kinds {
		if strings.HasPrefix(k, strings.ToLower(prefix)) {
			out = append(out, k)
		}
	}
	return out
}

func runTrace(ctx context.Context, c *cli, kind, name, namespace string) error {
	if kind == "" || name == "" {
		return errors.New("trace needs an object: gotk trace KIND NAME or gotk trace KIND/NAME")
	}
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	mapper, err := c.kube.ToRESTMapper()
	if err != nil {
		return err
	}
	gr := schema.ParseGroupResource(kind)
	gvk, err := mapper.KindFor(gr.WithVersion(""))
	if err != nil {
		return fmt.Errorf("the cluster serves no kind %q: use a kind, resource or short name as kubectl does (deployment, deploy, Deployment)", kind)
	}
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("kind %s: %w", gvk.Kind, err)
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	key := types.NamespacedName{Name: name}
	if mapping.Scope.Name() == apimeta.RESTScopeNameNamespace {
		key.Namespace = namespace
	}
	if err := cl.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s not found%s", gvk.Kind, name, inNamespace(key.Namespace))
		}
		return fmt.Errorf("read %s %s: %w", gvk.Kind, key, err)
	}
	owner, ownerKey, ok, err := appliedByOwner(ctx, cl, obj)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %s%s is not managed by gotk: it has neither the %s and %s labels of a Kustomization nor the %s and %s labels or the Helm release annotations of a HelmRelease",
			gvk.Kind, name, inNamespace(key.Namespace), kustomizev1.NameLabel, kustomizev1.NamespaceLabel,
			helmrelease.NameLabel, helmrelease.NamespaceLabel)
	}
	w := c.out
	printObjectBlock(w, obj)
	// seen holds the Kustomizations, HelmReleases and sources printed,
	// each once.
	seen := map[string]bool{}
	// applied is the object that owner applied.
	applied := gvk.Kind + " " + name
	for depth := 0; ok && depth < maxTraceDepth; depth++ {
		id := owner.Kind() + "/" + ownerKey.String()
		if seen[id] {
			break
		}
		seen[id] = true
		fmt.Fprintln(w, "---")
		u, err := getObject(ctx, cl, owner, ownerKey)
		if err != nil {
			return fmt.Errorf("%s was applied by %s %s, which is gone: %w", applied, owner.Kind(), ownerKey, err)
		}
		if owner.Kind() == helmReleaseKind.Kind() {
			printHelmReleaseBlock(w, u)
			traceChart(ctx, cl, w, u, seen)
		} else {
			printKustomizationBlock(w, u)
			traceSource(ctx, cl, w, u, seen, "the Kustomization cannot fetch new revisions")
		}
		applied = owner.Kind() + " " + ownerKey.String()
		if owner, ownerKey, ok, err = appliedByOwner(ctx, cl, u); err != nil {
			return err
		}
	}
	return nil
}

// traceSource prints the source of a Kustomization or HelmChart, unless
// printed already; gone says what its absence means.
func traceSource(ctx context.Context, cl client.Client, w io.Writer, u *unstructured.Unstructured, seen map[string]bool, gone string) {
	sk, skey, err := sourceOf(u)
	if err != nil || seen[sk.Kind()+"/"+skey.String()] {
		return
	}
	seen[sk.Kind()+"/"+skey.String()] = true
	fmt.Fprintln(w, "---")
	src := newObject(sk)
	if err := cl.Get(ctx, skey, src); err != nil {
		field(w, sk.Kind(), skey.Name)
		field(w, "Namespace", skey.Namespace)
		field(w, "Status", "not found: "+gone)
		return
	}
	printSourceBlock(w, sk, src)
}

// traceChart prints what a HelmRelease reads its chart from: its
// HelmChart, then the chart's source, or the object of spec.chartRef.
func traceChart(ctx context.Context, cl client.Client, w io.Writer, hr *unstructured.Unstructured, seen map[string]bool) {
	kind, key, err := chartSourceOf(hr)
	if err != nil || seen[kind.Kind()+"/"+key.String()] {
		return
	}
	seen[kind.Kind()+"/"+key.String()] = true
	fmt.Fprintln(w, "---")
	obj := newObject(kind)
	if err := cl.Get(ctx, key, obj); err != nil {
		field(w, kind.Kind(), key.Name)
		field(w, "Namespace", key.Namespace)
		field(w, "Status", "not found: the HelmRelease cannot fetch new chart versions")
		return
	}
	printSourceBlock(w, kind, obj)
	if kind.Kind() == helmChartKind.Kind() {
		traceSource(ctx, cl, w, obj, seen, "the HelmChart cannot fetch new chart versions")
	}
}

// appliedByOwner names the Kustomization or HelmRelease that applied obj: the
// helm.toolkit.fluxcd.io labels, else the annotations with which Helm
// marks the objects of a release (the HelmRelease is the one whose
// release that is), else the kustomize.toolkit.fluxcd.io labels.
func appliedByOwner(ctx context.Context, cl client.Client, obj *unstructured.Unstructured) (gotkKind, types.NamespacedName, bool, error) {
	labels, ann := obj.GetLabels(), obj.GetAnnotations()
	if name, ns := labels[helmrelease.NameLabel], labels[helmrelease.NamespaceLabel]; name != "" && ns != "" {
		return helmReleaseKind, types.NamespacedName{Namespace: ns, Name: name}, true, nil
	}
	if name, ns := ann[release.ReleaseNameAnnotation], ann[release.ReleaseNamespaceAnnotation]; name != "" && ns != "" &&
		labels[release.ManagedByLabel] == release.ManagedByHelm {
		key, err := helmReleaseOfRelease(ctx, cl, name, ns)
		if err != nil {
			return gotkKind{}, types.NamespacedName{}, false, fmt.Errorf("%s %s%s: %w", obj.GetKind(), obj.GetName(), inNamespace(obj.GetNamespace()), err)
		}
		return helmReleaseKind, key, true, nil
	}
	if name, ns := labels[kustomizev1.NameLabel], labels[kustomizev1.NamespaceLabel]; name != "" && ns != "" {
		return kustomizationKind, types.NamespacedName{Namespace: ns, Name: name}, true, nil
	}
	return gotkKind{}, types.NamespacedName{}, false, nil
}

// helmReleaseOfRelease finds the HelmRelease whose Helm release is name in
// namespace: among those of every namespace, or, without the right to
// list them all, those of the release's namespace.
func helmReleaseOfRelease(ctx context.Context, cl client.Client, name, namespace string) (types.NamespacedName, error) {
	list, err := listObjects(ctx, cl, helmReleaseKind, "")
	if err != nil {
		if list, err = listObjects(ctx, cl, helmReleaseKind, namespace); err != nil {
			return types.NamespacedName{}, err
		}
	}
	for i := range list {
		hr := &helmv2.HelmRelease{}
		if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(list[i].Object, hr); err != nil {
			continue
		}
		if hr.GetReleaseName() == name && hr.GetReleaseNamespace() == namespace {
			return types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}, nil
		}
	}
	return types.NamespacedName{}, fmt.Errorf("it belongs to Helm release %s/%s, which no HelmRelease manages (installed with helm itself?)", namespace, name)
}

// printHelmReleaseBlock writes a HelmRelease: its release, chart and
// readiness.
func printHelmReleaseBlock(w io.Writer, u *unstructured.Unstructured) {
	hr := &helmv2.HelmRelease{}
	_ = kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, hr)
	field(w, "HelmRelease", u.GetName())
	field(w, "Namespace", u.GetNamespace())
	field(w, "Target", hr.Spec.TargetNamespace)
	if snap := hr.Status.History.Latest(); snap != nil {
		field(w, "Release", fmt.Sprintf("%s/%s.v%d (%s)", snap.Namespace, snap.Name, snap.Version, snap.Status))
		field(w, "Chart", snap.ChartName)
		field(w, "Revision", snap.ChartVersion)
	} else {
		field(w, "Revision", hr.Status.LastAttemptedRevision)
	}
	printReady(w, u)
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + ns
}

// field writes one "Key: value" line of a block.
func field(w io.Writer, key, value string) {
	if value == "" {
		return
	}
	label := key + ":"
	if len(label) >= 15 {
		label += " "
	}
	fmt.Fprintf(w, "%-15s%s\n", label, oneLine(value))
}

func printObjectBlock(w io.Writer, obj *unstructured.Unstructured) {
	field(w, "Object", obj.GetKind()+"/"+obj.GetName())
	field(w, "Namespace", obj.GetNamespace())
	res, err := status.Compute(obj)
	if err != nil {
		field(w, "Status", "unknown: "+err.Error())
		return
	}
	st := string(res.Status)
	if res.Message != "" {
		st += ": " + res.Message
	}
	field(w, "Status", st)
}

// printReady writes the Status and Message lines of a gotk object.
func printReady(w io.Writer, u *unstructured.Unstructured) {
	c, ok := conditionOf(u, meta.ReadyCondition)
	switch {
	case isSuspended(u):
		field(w, "Status", "Suspended")
	case !ok:
		field(w, "Status", "Unknown: not reconciled yet")
	case c.Status == "True":
		field(w, "Status", "Ready since "+c.LastTransitionTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	default:
		field(w, "Status", "Not ready ("+c.Reason+"), since "+c.LastTransitionTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if ok {
		field(w, "Message", c.Message)
	}
}

func printKustomizationBlock(w io.Writer, ks *unstructured.Unstructured) {
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(ks.Object, path...)
		return s
	}
	field(w, "Kustomization", ks.GetName())
	field(w, "Namespace", ks.GetNamespace())
	field(w, "Target", str("spec", "targetNamespace"))
	field(w, "Path", str("spec", "path"))
	field(w, "Revision", str("status", "lastAppliedRevision"))
	printReady(w, ks)
}

func printSourceBlock(w io.Writer, k gotkKind, src *unstructured.Unstructured) {
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(src.Object, path...)
		return s
	}
	field(w, k.Kind(), src.GetName())
	field(w, "Namespace", src.GetNamespace())
	field(w, "URL", str("spec", "url"))
	field(w, "Bucket", str("spec", "bucketName"))
	field(w, "Endpoint", str("spec", "endpoint"))
	field(w, "Branch", str("spec", "ref", "branch"))
	field(w, "Tag", str("spec", "ref", "tag"))
	field(w, "Semver", str("spec", "ref", "semver"))
	field(w, "Ref", str("spec", "ref", "name"))
	field(w, "Commit", str("spec", "ref", "commit"))
	field(w, "Chart", str("spec", "chart"))
	field(w, "Version", str("spec", "version"))
	field(w, "Digest", str("spec", "ref", "digest"))
	field(w, "Revision", k.Revision(src))
	printReady(w, src)
}
