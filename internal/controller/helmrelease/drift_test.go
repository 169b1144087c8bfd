package helmrelease

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// driftChart is appChart with a Secret, and a CRD in crds/ whose group is
// made of ns, so that parallel tests do not share it.
func driftChart(ns string) hs.Chart {
	c := appChart("1.0.0")
	c.Templates["templates/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\n" +
		"stringData:\n  password: {{ .Values.password | default \"s3cret-value\" | quote }}\n"
	c.Files = map[string]string{"crds/widgets.yaml": fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s.example.com
spec:
  group: %[1]s.example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, ns)}
	return c
}

// driftRelease installs driftChart as "web" with a ConfigMap, a Secret, a
// Deployment and a Service, drift detection in mode, and mutate applied,
// and waits until it is Ready.
func driftRelease(t *testing.T, ns string, mode helmv2.DriftDetectionMode, mutate func(*helmv2.HelmRelease)) client.ObjectKey {
	t.Helper()
	chartServer(t, ns, driftChart(ns))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"deployment": true, "service": true})
		o.Spec.DriftDetection = &helmv2.DriftDetection{Mode: mode}
		if mutate != nil {
			mutate(o)
		}
	})
	readyWith(t, key, "1.0.0")
	return key
}

// reconcileNow asks for a reconcile and waits until it is done.
func reconcileNow(t *testing.T, key client.ObjectKey) *helmv2.HelmRelease {
	t.Helper()
	token := env.RequestReconcile(t, &helmv2.HelmRelease{}, key)
	return waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return o.Status.LastHandledReconcileAt == token
	})
}

// edit merge-patches an object as kubectl edit would.
func edit(t *testing.T, obj client.Object, patch string) {
	t.Helper()
	if err := env.Client.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(patch)),
		client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	watchedAs(t, obj, obj.GetResourceVersion())
}

func deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// resourceVersions returns the resourceVersion of each object of the
// release.
func resourceVersions(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}, &appsv1.Deployment{}, &corev1.Service{}} {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, o); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%T", o)] = o.GetResourceVersion()
	}
	return out
}

// Right after an install, the objects (a Deployment and a Service have
// many fields that the API server defaults) make no drift, and a reconcile
// in sync writes none of them; status.inventory lists the release's
// objects and its chart's CRD, and follows an upgrade that drops one.
func TestNoDriftAfterInstallAndInventory(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := driftRelease(t, ns, helmv2.DriftDetectionEnabled, nil)
	before := resourceVersions(t, ns)
	obj := reconcileNow(t, key)
	obj = reconcileNow(t, key)
	if runtime.Has(obj, DriftedCondition) {
		t.Errorf("Drifted right after install: %s", runtime.Message(obj, DriftedCondition))
	}
	for _, reason := range []string{helmv2.DriftDetectedReason, DriftCorrectedReason} {
		if ev := events(t, ns, "web", reason); len(ev) > 0 {
			t.Errorf("%s events right after install: %q", reason, ev)
		}
	}
	if after := resourceVersions(t, ns); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a reconcile in sync wrote to the release's objects: resourceVersions %v, then %v", before, after)
	}
	if !runtime.IsReady(obj) {
		t.Errorf("not Ready: %s", runtime.Message(obj, meta.ReadyCondition))
	}

	want := []meta.ResourceRef{
		{ID: ns + "_web__ConfigMap", Version: "v1"},
		{ID: ns + "_web__Secret", Version: "v1"},
		{ID: ns + "_web__Service", Version: "v1"},
		{ID: ns + "_web_apps_Deployment", Version: "v1"},
		{ID: "_widgets." + ns + ".example.com_apiextensions.k8s.io_CustomResourceDefinition", Version: "v1"},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	if obj.Status.Inventory == nil || fmt.Sprint(obj.Status.Inventory.Entries) != fmt.Sprint(want) {
		t.Errorf("inventory %+v, want %+v", obj.Status.Inventory, want)
	}

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"deployment": true})
	})
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		latest := o.Status.History.Latest()
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && latest != nil && latest.Version == 2
	})
	for _, e := range obj.Status.Inventory.Entries {
		if e.ID == ns+"_web__Service" {
			t.Errorf("inventory still lists the Service the upgrade removed: %+v", obj.Status.Inventory.Entries)
		}
	}
	if len(obj.Status.Inventory.Entries) != 4 {
		t.Errorf("inventory after upgrade %+v, want 4 entries", obj.Status.Inventory.Entries)
	}
}

// Drift detection costs nothing it need not: the first comparison after
// an install or an upgrade dry-runs none of the objects that Helm has just
// applied, and a reconcile in sync reads none of them (the shared watches
// show them unchanged).
func TestDriftDetectionAfterActionsCostsNoRequest(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	start := actionRequests.count()
	key := driftRelease(t, ns, helmv2.DriftDetectionEnabled, nil)
	if dry := actionRequests.since(start, "/namespaces/"+ns+"/", "dryRun=All"); len(dry) > 0 {
		t.Errorf("dry-runs of objects just installed: %q", dry)
	}

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"deployment": true, "service": true, "greeting": "upgraded"})
	})
	start = actionRequests.count()
	waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		latest := o.Status.History.Latest()
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && latest != nil && latest.Version == 2
	})
	if dry := actionRequests.since(start, "/namespaces/"+ns+"/", "dryRun=All"); len(dry) > 0 {
		t.Errorf("dry-runs of objects just upgraded: %q", dry)
	}
	if cm := configMap(t, ns, "web"); cm.Data["greeting"] != "upgraded" {
		t.Fatalf("not upgraded: ConfigMap %v", cm.Data)
	}

	start = actionRequests.count()
	obj := reconcileNow(t, key)
	if runtime.Has(obj, DriftedCondition) {
		t.Errorf("Drifted: %s", runtime.Message(obj, DriftedCondition))
	}
	var reads []string
	for _, path := range []string{"/configmaps/web", "/secrets/web", "/services/web", "/deployments/web"} {
		reads = append(reads, actionRequests.since(start, "/namespaces/"+ns+path)...)
	}
	if len(reads) > 0 {
		t.Errorf("a reconcile in sync read or wrote the release's objects: %q", reads)
	}

	// An edit still shows, and is corrected.
	edit(t, configMap(t, ns, "web"), `{"data":{"greeting":"edited"}}`)
	reconcileNow(t, key)
	if cm := configMap(t, ns, "web"); cm.Data["greeting"] != "upgraded" {
		t.Errorf("drift not corrected: ConfigMap %v", cm.Data)
	}
}

// In enabled mode, a Deployment edited in the cluster and a ConfigMap of
// the release deleted are restored by the next reconcile, with a
// DriftDetected warning that names what changed and a DriftCorrected
// event; Drifted records the correction.
func TestDriftCorrected(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := driftRelease(t, ns, helmv2.DriftDetectionEnabled, nil)

	edit(t, deployment(t, ns, "web"), `{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"app","image":"nginx:edited"}]}}}}`)
	cm := configMap(t, ns, "web")
	if err := env.Client.Delete(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	watchedAs(t, cm, "")
	obj := reconcileNow(t, key)

	d := deployment(t, ns, "web")
	if *d.Spec.Replicas != 0 || d.Spec.Template.Spec.Containers[0].Image != "nginx" {
		t.Errorf("Deployment not restored: replicas %d, image %q", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	if cm := configMap(t, ns, "web"); cm == nil || cm.Data["greeting"] != "hello" {
		t.Errorf("ConfigMap not restored: %v", cm)
	}
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, "Deployment/"+ns+"/web changed (")
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, "/spec/replicas: 3 -> 0")
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, `/spec/template/spec/containers/0/image: "nginx:edited" -> "nginx"`)
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, "ConfigMap/"+ns+"/web missing")
	waitEvent(t, ns, "web", DriftCorrectedReason, "Deployment/"+ns+"/web configured")
	waitEvent(t, ns, "web", DriftCorrectedReason, "ConfigMap/"+ns+"/web created")
	if c := runtime.Get(obj, DriftedCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != DriftCorrectedReason {
		t.Errorf("Drifted %+v, want False %s", c, DriftCorrectedReason)
	}
	if !runtime.IsReady(obj) {
		t.Errorf("not Ready after a correction: %s", runtime.Message(obj, meta.ReadyCondition))
	}
	for _, m := range events(t, ns, "web", helmv2.DriftDetectedReason) {
		if strings.Contains(m, "Secret/") {
			t.Errorf("the Secret, which nobody changed, shows as drifted: %s", m)
		}
	}

	// Corrected, the next reconcile finds no drift.
	obj = reconcileNow(t, key)
	if runtime.Has(obj, DriftedCondition) {
		t.Errorf("Drifted after the correction: %+v", runtime.Get(obj, DriftedCondition))
	}
}

// In warn mode a change is reported (Drifted True, a DriftDetected
// warning, Secret values masked) and left as it is; an object annotated
// helm.toolkit.fluxcd.io/driftDetection: disabled in the cluster is left
// out; once the changes are undone, Drifted goes away.
func TestDriftOnlyReportedInWarnMode(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := driftRelease(t, ns, helmv2.DriftDetectionWarn, nil)

	edit(t, configMap(t, ns, "web"), `{"data":{"greeting":"edited"}}`)
	secret := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, secret); err != nil {
		t.Fatal(err)
	}
	edit(t, secret, `{"stringData":{"password":"changed-by-hand"}}`)
	obj := reconcileNow(t, key)

	c := runtime.Get(obj, DriftedCondition)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != helmv2.DriftDetectedReason {
		t.Fatalf("Drifted %+v, want True %s", c, helmv2.DriftDetectedReason)
	}
	for _, want := range []string{
		"ConfigMap/" + ns + `/web changed (/data/greeting: "edited" -> "hello")`,
		"Secret/" + ns + `/web changed (/data/password: "*** (before)" -> "*** (after)")`,
	} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Drifted message %q lacks %q", c.Message, want)
		}
	}
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, `/data/greeting: "edited" -> "hello"`)
	for _, m := range append(events(t, ns, "web", helmv2.DriftDetectedReason), c.Message) {
		for _, secret := range []string{"s3cret-value", "changed-by-hand", "czNjcmV0LXZhbHVl", "Y2hhbmdlZC1ieS1oYW5k"} {
			if strings.Contains(m, secret) {
				t.Errorf("a Secret value shows: %s", m)
			}
		}
	}
	if cm := configMap(t, ns, "web"); cm.Data["greeting"] != "edited" {
		t.Errorf("warn mode changed the ConfigMap: %v", cm.Data)
	}
	if ev := events(t, ns, "web", DriftCorrectedReason); len(ev) > 0 {
		t.Errorf("warn mode corrected: %q", ev)
	}
	if !runtime.IsReady(obj) {
		t.Errorf("not Ready in warn mode: %s", runtime.Message(obj, meta.ReadyCondition))
	}

	// Annotated in the cluster to be left out, the ConfigMap no longer
	// counts; the Secret still does.
	edit(t, configMap(t, ns, "web"), `{"metadata":{"annotations":{"helm.toolkit.fluxcd.io/driftDetection":"disabled"}}}`)
	obj = reconcileNow(t, key)
	if m := runtime.Message(obj, DriftedCondition); strings.Contains(m, "ConfigMap/") || !strings.Contains(m, "Secret/") {
		t.Errorf("Drifted message %q, want the Secret only", m)
	}

	edit(t, configMap(t, ns, "web"), `{"data":{"greeting":"hello"}}`)
	edit(t, secret, `{"stringData":{"password":"s3cret-value"}}`)
	obj = reconcileNow(t, key)
	if runtime.Has(obj, DriftedCondition) {
		t.Errorf("Drifted once undone: %+v", runtime.Get(obj, DriftedCondition))
	}
}

// An ignore rule leaves its fields alone: replicas changed by hand (as an
// autoscaler would) stay, while a change to the image of the same
// Deployment is corrected.
func TestDriftIgnoreRule(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	key := driftRelease(t, ns, helmv2.DriftDetectionEnabled, func(o *helmv2.HelmRelease) {
		o.Spec.DriftDetection.Ignore = []meta.IgnoreRule{{
			Paths:  []string{"/spec/replicas"},
			Target: &meta.Selector{Kind: "Deployment"},
		}}
	})

	edit(t, deployment(t, ns, "web"), `{"spec":{"replicas":2}}`)
	obj := reconcileNow(t, key)
	if runtime.Has(obj, DriftedCondition) {
		t.Errorf("an ignored field made drift: %+v", runtime.Get(obj, DriftedCondition))
	}
	if ev := events(t, ns, "web", helmv2.DriftDetectedReason); len(ev) > 0 {
		t.Errorf("an ignored field made drift: %q", ev)
	}

	edit(t, deployment(t, ns, "web"), `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:edited"}]}}}}`)
	reconcileNow(t, key)
	d := deployment(t, ns, "web")
	if d.Spec.Template.Spec.Containers[0].Image != "nginx" {
		t.Errorf("image not corrected: %q", d.Spec.Template.Spec.Containers[0].Image)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("the correction reset the ignored replicas to %d", *d.Spec.Replicas)
	}
	for _, m := range events(t, ns, "web", helmv2.DriftDetectedReason) {
		if strings.Contains(m, "replicas") {
			t.Errorf("the event names the ignored field: %s", m)
		}
	}
}

// The comparison goes through the service account the Helm actions
// impersonate: once it may no longer patch ConfigMaps, drift detection
// fails with the API server's refusal for that account, and the edited
// ConfigMap is left as it is rather than corrected with the controller's
// own rights.
func TestDriftDetectionImpersonates(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	rules := func(verbs ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs},
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}, Rules: rules("*")}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployer"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: ns}}}
	for _, o := range []client.Object{sa, role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ServiceAccountName = "deployer"
		o.Spec.DriftDetection = &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled}
	})
	readyWith(t, key, "1.0.0")

	role.Rules = rules("get", "list", "watch")
	if err := env.Client.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	edit(t, configMap(t, ns, "web"), `{"data":{"greeting":"edited"}}`)
	env.RequestReconcile(t, &helmv2.HelmRelease{}, key)
	obj := notReadyWith(t, key, DriftDetectionFailedReason)
	msg := runtime.Message(obj, meta.ReadyCondition)
	if !strings.Contains(msg, "system:serviceaccount:"+ns+":deployer") || !strings.Contains(msg, "configmaps") {
		t.Errorf("message %q does not name the service account and what it may not do", msg)
	}
	if cm := configMap(t, ns, "web"); cm.Data["greeting"] != "edited" {
		t.Errorf("the ConfigMap was corrected despite the service account's rights: %v", cm.Data)
	}
}

// A correction writes as Helm's field manager: a label it restored is
// still Helm's, and the upgrade that drops the label from the release
// removes it from the object.
func TestDriftCorrectionLeavesFieldsToHelm(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.CommonMetadata = &meta.CommonMetadata{Labels: map[string]string{"team": "a"}}
		o.Spec.DriftDetection = &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled}
	})
	readyWith(t, key, "1.0.0")

	edit(t, configMap(t, ns, "web"), `{"metadata":{"labels":{"team":"b"}}}`)
	reconcileNow(t, key)
	if cm := configMap(t, ns, "web"); cm.Labels["team"] != "a" {
		t.Fatalf("label not restored: %v", cm.Labels)
	}
	waitEvent(t, ns, "web", helmv2.DriftDetectedReason, `/metadata/labels/team: "b" -> "a"`)

	// Drift detection off, so that only the upgrade acts on the label.
	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.CommonMetadata = nil
		o.Spec.DriftDetection = nil
	})
	waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && o.Status.History.Latest().Version == 2
	})
	if cm := configMap(t, ns, "web"); cm.Labels["team"] != "" {
		t.Errorf("the upgrade that dropped the label left it: %v (managed fields %v)", cm.Labels, managers(cm.ManagedFields))
	}
}

func managers(entries []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Manager+"/"+string(e.Operation))
	}
	return out
}
