package helmrelease

import (
	"context"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// targetNamespace, createNamespace, storageNamespace, maxHistory and the
// default release name "<targetNamespace>-<name>" as Flux derives them.
func TestTargetAndStorageNamespaces(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	target := ns[:min(len(ns), 40)] + "-target"
	chartServer(t, ns, appChart("1.0.0"))
	one := 1
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.TargetNamespace = target
		o.Spec.Install.CreateNamespace = true
		o.Spec.MaxHistory = &one
	})
	obj := readyWith(t, key, "1.0.0")
	name := target + "-web"
	if obj.GetReleaseName() != name || obj.Status.History.Latest().Name != name || obj.Status.History.Latest().Namespace != target {
		t.Errorf("release %s in %s, want %s in %s", obj.Status.History.Latest().Name, obj.Status.History.Latest().Namespace, name, target)
	}
	greetingIs(t, target, name, "hello")
	if n := len(releaseSecrets(t, ns, name)); n != 1 {
		t.Errorf("%d storage Secrets in the HelmRelease's namespace, want 1", n)
	}
	for _, v := range []string{"a", "b", "c"} {
		update(t, key, func(o *helmv2.HelmRelease) { o.Spec.Values = values(t, map[string]any{"greeting": v}) })
		greetingIs(t, target, name, v)
	}
	waitFor(t, key, func(o *helmv2.HelmRelease) bool { return o.Status.History.Latest().Version == 4 && runtime.IsReady(o) })
	if n := len(releaseSecrets(t, ns, name)); n > 2 {
		t.Errorf("%d storage Secrets with maxHistory 1", n)
	}
}

// A service account that may manage Secrets and ConfigMaps but not
// Services: the release of a chart with a Service fails with the API
// server's refusal, and nothing is created with the controller's rights.
func TestImpersonationRefusesWhatTheServiceAccountMayNotDo(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"*"},
	}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployer"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: ns}}}
	for _, o := range []client.Object{sa, role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	allowed := newRelease(t, ns, "allowed", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ServiceAccountName = "deployer"
	})
	readyWith(t, allowed, "1.0.0")

	refused := newRelease(t, ns, "refused", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ServiceAccountName = "deployer"
		o.Spec.Values = values(t, map[string]any{"service": true})
	})
	obj := notReadyWith(t, refused, helmv2.InstallFailedReason)
	msg := runtime.Message(obj, meta.ReadyCondition)
	if !strings.Contains(msg, `system:serviceaccount:`+ns+`:deployer`) || !strings.Contains(msg, "services") {
		t.Errorf("message %q does not name the service account and the refused kind", msg)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "refused"}, &corev1.Service{}); err == nil {
		t.Error("the Service was created despite the service account's rights")
	}
}

// A chart that the repository does not have leaves the HelmRelease not
// Ready with the HelmChart's message and installs nothing; spec.chartRef
// to a HelmChart installs from it; suspend stops upgrades.
func TestMissingChartChartRefAndSuspend(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	ctx := context.Background()
	missing := newRelease(t, ns, "missing", "nosuchchart", "*", nil)
	obj := waitFor(t, missing, func(o *helmv2.HelmRelease) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && strings.Contains(runtime.Message(o, meta.ReadyCondition), "nosuchchart")
	})
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), runtime.Message(obj, meta.ReadyCondition))
	if runtime.Reason(obj, meta.ReadyCondition) != meta.ArtifactFailedReason {
		t.Errorf("Ready reason %s", runtime.Reason(obj, meta.ReadyCondition))
	}
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "HelmChart '"+ns+"/"+ns+"-missing' is not ready") ||
		!strings.Contains(msg, "nosuchchart") {
		t.Errorf("message %q", msg)
	}
	if n := len(releaseSecrets(t, ns, "missing")); n != 0 {
		t.Errorf("%d releases for a chart that does not exist", n)
	}

	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns}, Spec: sourcev1.HelmChartSpec{
		Chart: "app", Version: "1.0.0", Interval: metav1.Duration{Duration: time.Hour},
		SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
	}}
	if err := env.Client.Create(ctx, hc); err != nil {
		t.Fatal(err)
	}
	key := newRelease(t, ns, "byref", "", "", func(o *helmv2.HelmRelease) {
		o.Spec.Chart = nil
		o.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "shared"}
	})
	obj = readyWith(t, key, "1.0.0")
	if obj.Status.HelmChart != "" {
		t.Errorf("status.helmChart %q for a chartRef", obj.Status.HelmChart)
	}

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Suspend = true
		o.Spec.Values = values(t, map[string]any{"greeting": "while suspended"})
	})
	// The reconcile of the new generation is skipped: nothing changes.
	update(t, key, func(o *helmv2.HelmRelease) {
		o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
	})
	greetingIs(t, ns, "byref", "hello")
	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.Suspend = false })
	greetingIs(t, ns, "byref", "while suspended")
}

// A release left pending-upgrade, as by a controller killed during an
// upgrade, is unlocked (marked failed) and the next upgrade goes on
// instead of "another operation is in progress".
func TestPendingReleaseIsUnlocked(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", nil)
	readyWith(t, key, "1.0.0")

	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	store := driver.NewSecrets(cs.CoreV1().Secrets(ns))
	v, err := store.Get("sh.helm.release.v1.web.v1")
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*rel.Release)
	r.SetStatus(common.StatusPendingUpgrade, "a controller stopped here")
	if err := store.Update("sh.helm.release.v1.web.v1", r); err != nil {
		t.Fatal(err)
	}

	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.Values = values(t, map[string]any{"greeting": "after"}) })
	greetingIs(t, ns, "web", "after")
	obj := readyWith(t, key, "1.0.0")
	waitEvent(t, ns, "web", meta.ProgressingReason, "was left pending-upgrade")
	if v := obj.Status.History.Latest().Version; v != 2 {
		t.Errorf("newest version %d, want 2", v)
	}
}

// spec.commonMetadata labels and annotates every object of the release;
// changing it upgrades the release.
func TestCommonMetadata(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.CommonMetadata = &meta.CommonMetadata{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"owner": "ops"}}
	})
	readyWith(t, key, "1.0.0")
	cm := configMap(t, ns, "web")
	if cm.Labels["team"] != "a" || cm.Annotations["owner"] != "ops" {
		t.Errorf("labels %v annotations %v", cm.Labels, cm.Annotations)
	}
	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.CommonMetadata.Labels["team"] = "b" })
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && o.Status.History.Latest().Version == 2
	})
	if obj.Status.ObservedCommonMetadataDigest == "" {
		t.Error("status.observedCommonMetadataDigest not set")
	}
	if cm := configMap(t, ns, "web"); cm.Labels["team"] != "b" {
		t.Errorf("labels after the change: %v", cm.Labels)
	}
}
