package helmrelease

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// A HelmRelease with spec.chart makes the HelmChart <namespace>-<name>,
// installs the chart with its values as release <name>, stored as a Secret
// in its namespace, and records the release in status.history; a new
// chart version in range upgrades it; deleting the HelmRelease uninstalls
// the release and deletes the HelmChart.
func TestInstallUpgradeUninstall(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	srv := chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.x", func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"greeting": "hi"})
	})

	obj := readyWith(t, key, "1.0.0")
	greetingIs(t, ns, "web", "hi")
	if got, want := obj.Status.HelmChart, ns+"/"+ns+"-web"; got != want {
		t.Errorf("status.helmChart %q, want %q", got, want)
	}
	hc := &sourcev1.HelmChart{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: ns + "-web"}, hc); err != nil {
		t.Fatalf("HelmChart of spec.chart: %v", err)
	}
	if hc.Spec.Chart != "app" || hc.Spec.Version != "1.x" || hc.Labels[NameLabel] != "web" {
		t.Errorf("HelmChart spec %+v labels %v", hc.Spec, hc.Labels)
	}
	latest := obj.Status.History.Latest()
	if latest.Name != "web" || latest.Namespace != ns || latest.Version != 1 || latest.ChartName != "app" ||
		!strings.HasPrefix(latest.Digest, "sha256:") || !strings.HasPrefix(latest.ConfigDigest, "sha256:") {
		t.Errorf("history snapshot %+v", latest)
	}
	if obj.Status.LastAttemptedRevision != "1.0.0" || obj.Status.LastAttemptedValuesChecksum == "" ||
		obj.Status.LastAttemptedReleaseAction != helmv2.ReleaseActionInstall || obj.Status.StorageNamespace != ns {
		t.Errorf("status %+v", obj.Status)
	}
	if r := runtime.Reason(obj, helmv2.ReleasedCondition); r != helmv2.InstallSucceededReason {
		t.Errorf("Released reason %q", r)
	}
	if got := runtime.Message(obj, meta.ReadyCondition); got != "Helm install succeeded for release "+ns+"/web.v1 with chart app@1.0.0" {
		t.Errorf("Ready message %q", got)
	}
	if n := len(releaseSecrets(t, ns, "web")); n != 1 {
		t.Errorf("%d storage Secrets, want 1", n)
	}
	waitEvent(t, ns, "web", helmv2.InstallSucceededReason, "web.v1 with chart app@1.0.0")
	// Waiting for the HelmChart it created, and for the objects, is
	// progress, not an error to alert on.
	if ev := events(t, ns, "web", meta.ProgressingReason); len(ev) > 0 {
		t.Errorf("events of the install's progress: %q", ev)
	}

	srv.Add(t, appChart("1.1.0"))
	env.RequestReconcile(t, &sourcev1.HelmRepository{}, client.ObjectKey{Namespace: ns, Name: "charts"})
	obj = readyWith(t, key, "1.1.0")
	if latest := obj.Status.History.Latest(); latest.Version != 2 {
		t.Errorf("upgrade made version %d, want 2", latest.Version)
	}
	if len(obj.Status.History) < 2 || obj.Status.History[1].Status != "superseded" {
		t.Errorf("history %+v", obj.Status.History)
	}
	if r := runtime.Reason(obj, helmv2.ReleasedCondition); r != helmv2.UpgradeSucceededReason {
		t.Errorf("Released reason %q", r)
	}
	waitEvent(t, ns, "web", helmv2.UpgradeSucceededReason, "web.v2 with chart app@1.1.0")

	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	waitGone(t, key)
	if cm := configMap(t, ns, "web"); cm != nil {
		t.Error("the release's ConfigMap is still there after the HelmRelease was deleted")
	}
	if n := len(releaseSecrets(t, ns, "web")); n != 0 {
		t.Errorf("%d storage Secrets left after uninstall", n)
	}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: ns + "-web"}, &sourcev1.HelmChart{})
	if err == nil {
		t.Error("the HelmChart of spec.chart is still there")
	}
}
