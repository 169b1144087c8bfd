package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourceextv1beta1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/install"
)

// pollInterval is how often the CLI reads an object it waits for.
var pollInterval = 500 * time.Millisecond

// defaultWaitTimeout bounds the waits of create, reconcile and resume.
const defaultWaitTimeout = 5 * time.Minute

// objectNamespace is the namespace of the objects a command works on: -n
// when given, else the namespace of the kubeconfig context, else
// gotk-system. Every object command resolves it the same way, so that
// `gotk create source git` and `gotk create kustomization` meet in one
// namespace without flags.
func (c *cli) objectNamespace(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("namespace"); f != nil && f.Changed {
		if ns := strings.TrimSpace(f.Value.String()); ns != "" {
			return ns
		}
	}
	if ns := c.contextNamespace(); ns != "" {
		return ns
	}
	return install.DefaultNamespace
}

// contextNamespace is the namespace that the kubeconfig's current (or
// --context) context sets, or "".
func (c *cli) contextNamespace() string {
	raw, err := c.kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	name := raw.CurrentContext
	if c.kube.Context != nil && *c.kube.Context != "" {
		name = *c.kube.Context
	}
	if ctx, ok := raw.Contexts[name]; ok && ctx != nil {
		return ctx.Namespace
	}
	return ""
}

// watchClient connects and returns a client that can also watch.
func (c *cli) watchClient() (client.WithWatch, error) {
	cl, _, err := c.connect()
	if err != nil {
		return nil, err
	}
	return cl.(client.WithWatch), nil
}

// newObject returns an empty object of kind, to Get into.
func newObject(k gotkKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK)
	return u
}

// getObject reads one gotk object, with an error that says how to find
// the right name when it does not exist.
func getObject(ctx context.Context, cl client.Client, k gotkKind, key types.NamespacedName) (*unstructured.Unstructured, error) {
	u := newObject(k)
	if err := cl.Get(ctx, key, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s %s not found in namespace %s: list them with gotk get %s -n %s",
				k.Kind(), key.Name, key.Namespace, getCommandFor(k), key.Namespace)
		}
		return nil, fmt.Errorf("read %s %s: %w", k.Kind(), key, err)
	}
	return u, nil
}

// getCommandFor is the `gotk get` subcommand that lists kind.
func getCommandFor(k gotkKind) string {
	switch k.Kind() {
	case gitRepositoryKind.Kind():
		return "sources git"
	case kustomizationKind.Kind():
		return "kustomizations"
	}
	return "all"
}

// listObjects lists the objects of kind in namespace ("" for all).
func listObjects(ctx context.Context, cl client.Client, k gotkKind, namespace string, opts ...client.ListOption) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.ListGVK())
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := cl.List(ctx, list, opts...); err != nil {
		where := "in every namespace"
		if namespace != "" {
			where = "in namespace " + namespace
		}
		return nil, fmt.Errorf("list %s %s: %w", k.Plural, where, err)
	}
	return list.Items, nil
}

// condition is one entry of status.conditions, read from an unstructured
// object.
type condition struct {
	Type, Status, Reason, Message string
	LastTransitionTime            time.Time
}

// conditionOf returns the condition of type t, if the object has one.
func conditionOf(u *unstructured.Unstructured, t string) (condition, bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		m, ok := raw.(map[string]any)
		if !ok || m["type"] != t {
			continue
		}
		c := condition{Type: t}
		c.Status, _ = m["status"].(string)
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		if s, ok := m["lastTransitionTime"].(string); ok {
			c.LastTransitionTime, _ = time.Parse(time.RFC3339, s)
		}
		return c, true
	}
	return condition{}, false
}

// readyStatus is the Ready condition's status ("True", "False",
// "Unknown"), and "Unknown" when there is none.
func readyStatus(u *unstructured.Unstructured) (string, string) {
	c, ok := conditionOf(u, meta.ReadyCondition)
	if !ok {
		return string(metav1.ConditionUnknown), "waiting to be reconciled"
	}
	return c.Status, c.Message
}

func isSuspended(u *unstructured.Unstructured) bool {
	if u.GetKind() == artifactGeneratorKind.Kind() {
		return isGeneratorSuspended(u)
	}
	s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
	return s
}

func observedGeneration(u *unstructured.Unstructured) int64 {
	g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	return g
}

func lastHandledReconcileAt(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
	return s
}

// outcome is where a reconcile stands.
type outcome int

const (
	// pending: the controller has not finished with the object's
	// generation (or request) yet.
	pending outcome = iota
	// succeeded: Ready is True for the current generation.
	succeeded
	// failed: Ready is False for the current generation, and waiting will
	// not change that by itself.
	failed
)

// assess says whether the controller has finished reconciling u: its
// current generation and, when token is not empty, the reconcile request
// with that token. It returns the Ready message as the reason.
func assess(u *unstructured.Unstructured, token string) (outcome, string) {
	if isSuspended(u) {
		return failed, "reconciliation is suspended"
	}
	if token != "" && lastHandledReconcileAt(u) != token {
		return pending, "waiting for the controller to handle the request"
	}
	if observedGeneration(u) != u.GetGeneration() {
		return pending, "waiting for the controller to observe generation " + fmt.Sprint(u.GetGeneration())
	}
	c, ok := conditionOf(u, meta.ReadyCondition)
	switch {
	case !ok:
		return pending, "waiting for the Ready condition"
	case c.Status == string(metav1.ConditionTrue):
		return succeeded, c.Message
	case c.Status == string(metav1.ConditionFalse):
		// A dependency that becomes ready ends this by itself.
		if c.Reason == meta.DependencyNotReadyReason || c.Reason == meta.ProgressingReason {
			return pending, c.Message
		}
		return failed, c.Message
	}
	return pending, c.Message
}

// waitOptions tune waitFor.
type waitOptions struct {
	// token is the reconcile request to wait for, if any.
	token   string
	timeout time.Duration
}

// waitFor polls the object until assess decides, or the timeout passes.
// It prints the progress line and returns the object as last read. A
// failure returns an error with the Ready message.
func (c *cli) waitFor(ctx context.Context, cl client.Client, k gotkKind, key types.NamespacedName, o waitOptions) (*unstructured.Unstructured, error) {
	c.status.progress("waiting for %s reconciliation", k.Kind())
	var last *unstructured.Unstructured
	var lastMsg string
	var result outcome
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.timeout, true, func(ctx context.Context) (bool, error) {
		u := newObject(k)
		if err := cl.Get(ctx, key, u); err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("%s %s was deleted while waiting for it", k.Kind(), key)
			}
			// A slow or restarting API server: try again until the timeout.
			lastMsg = "cannot read it: " + err.Error()
			return false, nil
		}
		last = u
		result, lastMsg = assess(u, o.token)
		return result != pending, nil
	})
	switch {
	case err == nil && result == succeeded:
		c.status.ok("%s reconciled", k.Kind())
		return last, nil
	case err == nil:
		return last, fmt.Errorf("%s %s reconciliation failed: %s", k.Kind(), key, lastMsg)
	case wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return last, ctx.Err()
		}
		msg := lastMsg
		if msg == "" {
			msg = "no status yet"
		}
		return last, fmt.Errorf("timed out after %s waiting for %s %s to be Ready (%s); is the %s controller running? see gotk events --for %s/%s -n %s",
			o.timeout, k.Kind(), key, msg, controllerOf(k), k.Kind(), key.Name, key.Namespace)
	default:
		return last, err
	}
}

// controllerOf names the controller that reconciles kind.
func controllerOf(k gotkKind) string {
	g := k.GVK.Group
	name, _, _ := strings.Cut(g, ".")
	return name
}

// requestReconcile sets the reconcile.fluxcd.io/requestedAt annotation
// with a merge patch (spec.suspend too, when resume is set) and returns
// the token to wait for.
func requestReconcile(ctx context.Context, cl client.Client, k gotkKind, key types.NamespacedName, resume bool) (string, error) {
	token := time.Now().Format(time.RFC3339Nano)
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{meta.ReconcileRequestAnnotation: token}},
	}
	switch {
	case resume && k.Kind() == artifactGeneratorKind.Kind():
		// An ArtifactGenerator is suspended by an annotation, as in Flux.
		patch["metadata"].(map[string]any)["annotations"].(map[string]any)[sourceextv1beta1.ReconcileAnnotation] = sourceextv1beta1.ReconcileEnabled
	case resume:
		patch["spec"] = map[string]any{"suspend": false}
	}
	if err := mergePatch(ctx, cl, k, key, patch); err != nil {
		return "", err
	}
	return token, nil
}

// mergePatch applies a JSON merge patch to one object.
func mergePatch(ctx context.Context, cl client.Client, k gotkKind, key types.NamespacedName, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	u := newObject(k)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	if err := cl.Patch(ctx, u, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s not found in namespace %s: list them with gotk get %s -n %s",
				k.Kind(), key.Name, key.Namespace, getCommandFor(k), key.Namespace)
		}
		return fmt.Errorf("patch %s %s: %w", k.Kind(), key, err)
	}
	return nil
}

// droppedAnnotations are removed from exported objects: they record how
// the object was last changed, not what it should be.
var droppedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	meta.ReconcileRequestAnnotation,
	meta.ForceRequestAnnotation,
	meta.ResetRequestAnnotation,
}

// exportable returns a copy of u fit to commit to Git: apiVersion, kind,
// name, namespace, labels, the annotations a person set, and the rest of
// the object (spec, data...) without status and server-set metadata.
func exportable(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range u.DeepCopy().Object {
		if k == "metadata" || k == "status" {
			continue
		}
		out.Object[k] = v
	}
	md := map[string]any{"name": u.GetName()}
	if ns := u.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := u.GetLabels(); len(l) > 0 {
		md["labels"] = toAnyMap(l)
	}
	ann := u.GetAnnotations()
	for _, a := range droppedAnnotations {
		delete(ann, a)
	}
	if len(ann) > 0 {
		md["annotations"] = toAnyMap(ann)
	}
	out.Object["metadata"] = md
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// applyTyped applies a typed object (TypeMeta set) with server-side apply
// as the "gotk" field manager and reports whether it was created.
func applyTyped(ctx context.Context, cl client.Client, obj client.Object) (created bool, err error) {
	u, err := install.ToUnstructured(obj)
	if err != nil {
		return false, err
	}
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(u.GroupVersionKind())
	err = cl.Get(ctx, client.ObjectKeyFromObject(u), probe)
	switch {
	case apierrors.IsNotFound(err):
		created = true
	case apimeta.IsNoMatchError(err):
		return false, fmt.Errorf("the cluster does not serve %s: install gotk first (gotk install)", u.GroupVersionKind().GroupKind())
	case err != nil:
		return false, fmt.Errorf("read %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	if err := install.ApplyObject(ctx, cl, u); err != nil {
		return false, err
	}
	return created, nil
}

// completeNames completes the names of objects of kind in the command's
// namespace, for cobra's ValidArgsFunction. Names already on the command
// line are left out.
func (c *cli) completeNames(k gotkKind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cl, err := c.watchClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		items, err := listObjects(ctx, cl, k, c.objectNamespace(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		used := map[string]bool{}
		for _, a := range args {
			used[a] = true
		}
		var out []cobra.Completion
		for _, it := range items {
			if n := it.GetName(); strings.HasPrefix(n, toComplete) && !used[n] {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
