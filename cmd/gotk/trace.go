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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// maxTraceDepth bounds the chain of Kustomizations that applied each
// other.
const maxTraceDepth = 10

func newTraceCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace KIND NAME | trace KIND/NAME",
		Short: "Show which Kustomization applied an object, from which source and revision",
		Long: `Trace an object of any kind back to gotk: the Kustomization that applied it
(from the object's kustomize.toolkit.fluxcd.io/name and /namespace labels),
with its path, revision and Ready status, and that Kustomization's source,
with its URL, reference, revision and Ready status. When the Kustomization
was itself applied by another one, the trace goes on up the chain.

KIND is a kind, resource or short name as kubectl takes them (Deployment,
deployment, deploy, deployments.apps).`,
		Example: `  # Where does the web Deployment come from?
  gotk trace deployment web -n web

  # The same
  gotk trace Deployment/web -n web

  # A cluster-scoped object
  gotk trace namespace web`,
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
	ksName, ksNS := obj.GetLabels()[kustomizev1.NameLabel], obj.GetLabels()[kustomizev1.NamespaceLabel]
	if ksName == "" || ksNS == "" {
		return fmt.Errorf("%s %s%s is not managed by gotk: it has no %s and %s labels",
			gvk.Kind, name, inNamespace(key.Namespace), kustomizev1.NameLabel, kustomizev1.NamespaceLabel)
	}
	w := c.out
	printObjectBlock(w, obj)
	// seen holds the Kustomizations and sources printed, each once.
	seen := map[string]bool{}
	for depth := 0; ksName != "" && depth < maxTraceDepth; depth++ {
		id := ksNS + "/" + ksName
		if seen[id] {
			break
		}
		seen[id] = true
		fmt.Fprintln(w, "---")
		ks, err := getObject(ctx, cl, kustomizationKind, types.NamespacedName{Namespace: ksNS, Name: ksName})
		if err != nil {
			return fmt.Errorf("%s %s was applied by Kustomization %s, which is gone: %w", gvk.Kind, name, id, err)
		}
		printKustomizationBlock(w, ks)
		if sk, skey, err := sourceOf(ks); err == nil && !seen[sk.Kind()+"/"+skey.String()] {
			seen[sk.Kind()+"/"+skey.String()] = true
			fmt.Fprintln(w, "---")
			src := newObject(sk)
			if err := cl.Get(ctx, skey, src); err != nil {
				field(w, sk.Kind(), skey.Name)
				field(w, "Namespace", skey.Namespace)
				field(w, "Status", "not found: the Kustomization cannot fetch new revisions")
			} else {
				printSourceBlock(w, sk, src)
			}
		}
		ksName, ksNS = ks.GetLabels()[kustomizev1.NameLabel], ks.GetLabels()[kustomizev1.NamespaceLabel]
	}
	return nil
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
	fmt.Fprintf(w, "%-15s%s\n", key+":", oneLine(value))
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
	field(w, "Digest", str("spec", "ref", "digest"))
	field(w, "Revision", k.Revision(src))
	printReady(w, src)
}
