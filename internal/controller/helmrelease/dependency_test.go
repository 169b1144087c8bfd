package helmrelease

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// A HelmRelease that depends on a Kustomization (kind: Kustomization)
// and on another HelmRelease waits, DependencyNotReady, until both are
// Ready, and installs once they are. The Kustomization's status is
// written here as its controller would, since none runs in this test.
func TestDependsOnKustomizationAndHelmRelease(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	ctx := context.Background()
	key := newRelease(t, ns, "app", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.DependsOn = []meta.DependencyReference{
			{Kind: kustomizev1.KustomizationKind, Name: "infra"},
			{Name: "db"},
		}
	})
	obj := notReadyWith(t, key, meta.DependencyNotReadyReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "dependency Kustomization '"+ns+"/infra' not found") {
		t.Errorf("message %q", msg)
	}

	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "infra", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Hour}, Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "none"}},
	}
	if err := env.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	runtime.MarkReady(ks, meta.ReconciliationSucceededReason, "Applied revision: main@sha1:1234")
	ks.Status.ObservedGeneration = ks.Generation
	if err := env.Client.Status().Update(ctx, ks); err != nil {
		t.Fatal(err)
	}
	waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return strings.Contains(runtime.Message(o, meta.ReadyCondition), "dependency HelmRelease '"+ns+"/db'")
	})
	if configMap(t, ns, "app") != nil {
		t.Fatal("installed before its dependencies were ready")
	}

	newRelease(t, ns, "db", "app", "1.0.0", nil)
	readyWith(t, key, "1.0.0")
	greetingIs(t, ns, "app", "hello")
}
