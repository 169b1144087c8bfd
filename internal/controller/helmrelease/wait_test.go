package helmrelease

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// With the wait enabled, a release whose Deployment is not ready yet is
// Released=Unknown, Ready=Unknown, waited for by the shared watches; the
// Deployment's status becoming ready (as its controller would write it)
// makes the HelmRelease Ready with no reconcile request.
func TestWaitUsesSharedHealthWatches(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Install = nil
		o.Spec.Values = values(t, map[string]any{"deployment": true})
	})
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.Reason(o, helmv2.ReleasedCondition) == meta.ProgressingReason && runtime.Has(o, meta.ReadyCondition) &&
			runtime.Get(o, meta.ReadyCondition).Status == metav1.ConditionUnknown
	})
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "Deployment/"+ns+"/web") {
		t.Errorf("Ready message %q does not name the Deployment waited for", msg)
	}
	ctx := context.Background()
	dep := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, dep); err != nil {
		t.Fatal(err)
	}
	dep.Status.ObservedGeneration = dep.Generation
	now := metav1.Now()
	dep.Status.Conditions = []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: "True", Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
		{Type: appsv1.DeploymentProgressing, Status: "True", Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
	}
	if err := env.Client.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	obj = readyWith(t, key, "1.0.0")
	if r := runtime.Reason(obj, helmv2.ReleasedCondition); r != helmv2.InstallSucceededReason {
		t.Errorf("Released reason %q", r)
	}
}

// A Deployment that is not ready within install.timeout fails the
// install: the release is marked failed in storage, and with no retries
// the HelmRelease stalls naming the Deployment.
func TestWaitTimeoutFailsTheRelease(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Install = &helmv2.Install{Timeout: &metav1.Duration{Duration: 2 * time.Second}}
		o.Spec.Values = values(t, map[string]any{"deployment": true})
	})
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool { return runtime.IsStalled(o) })
	msg := runtime.Message(obj, meta.ReadyCondition)
	t.Logf("Ready=False %s: %s", runtime.Reason(obj, meta.ReadyCondition), msg)
	if runtime.Reason(obj, meta.ReadyCondition) != helmv2.InstallFailedReason || !strings.Contains(msg, "Deployment/"+ns+"/web") ||
		!strings.Contains(msg, "timeout") {
		t.Errorf("Ready %s %q", runtime.Reason(obj, meta.ReadyCondition), msg)
	}
	if latest := obj.Status.History.Latest(); latest == nil || latest.Status != "failed" {
		t.Errorf("newest release %+v, want failed", latest)
	}
}
