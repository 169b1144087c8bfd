package helmrelease

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/helm/release"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// greetingPatch is a post-renderer that patches the release's ConfigMap
// (strategic merge) and rewrites the nginx image.
func greetingPatch(greeting string) []helmv2.PostRenderer {
	return []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{
		Patches: []meta.Patch{{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  greeting: " + greeting + "\n"}},
		Images:  []meta.Image{{Name: "nginx", NewName: "mirror.local/nginx", NewTag: "1.27"}},
	}}}
}

// spec.postRenderers patch and re-image the installed objects; a changed
// patch upgrades the release; a patch that cannot apply fails the
// upgrade with a message naming it, and leaves the release as it was.
func TestPostRenderersPatchAndUpgrade(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	chartServer(t, ns, appChart("1.0.0"))
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"deployment": true})
		o.Spec.PostRenderers = greetingPatch("patched")
	})
	obj := readyWith(t, key, "1.0.0")
	greetingIs(t, ns, "web", "patched")
	dep := &appsv1.Deployment{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, dep); err != nil {
		t.Fatal(err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "mirror.local/nginx:1.27" {
		t.Errorf("Deployment image %q, want the post-renderer's mirror.local/nginx:1.27", img)
	}
	if obj.Status.ObservedPostRenderersDigest == "" {
		t.Error("status.observedPostRenderersDigest not set")
	}
	if s := releaseSecrets(t, ns, "web"); len(s) != 1 || s[0].Labels[release.RenderLabel] == "" {
		t.Errorf("release storage %d Secrets, want 1 labelled %s", len(s), release.RenderLabel)
	}

	// A new patch, nothing else: an upgrade.
	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.PostRenderers = greetingPatch("patched-again") })
	obj = waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation && o.Status.History.Latest().Version == 2
	})
	greetingIs(t, ns, "web", "patched-again")
	digest := obj.Status.ObservedPostRenderersDigest

	// A patch that cannot apply: the upgrade fails before Helm changes
	// anything.
	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.PostRenderers = append(greetingPatch("patched-again"), helmv2.PostRenderer{Kustomize: &helmv2.Kustomize{
			Patches: []meta.Patch{{Target: &meta.Selector{Kind: "ConfigMap", Name: "web"},
				Patch: "- op: test\n  path: /data/greeting\n  value: something-else\n"}},
		}})
	})
	obj = notReadyWith(t, key, helmv2.UpgradeFailedReason)
	if msg := runtime.Message(obj, meta.ReadyCondition); !strings.Contains(msg, "spec.postRenderers[1].kustomize") {
		t.Errorf("message %q does not name spec.postRenderers[1]", msg)
	}
	if latest := obj.Status.History.Latest(); latest.Version != 2 || latest.Status != "deployed" {
		t.Errorf("latest release v%d %s, want v2 deployed", latest.Version, latest.Status)
	}
	if n := len(releaseSecrets(t, ns, "web")); n != 2 {
		t.Errorf("%d release versions in storage, want 2", n)
	}
	if obj.Status.ObservedPostRenderersDigest != digest {
		t.Error("status.observedPostRenderersDigest changed by a failed upgrade")
	}
	greetingIs(t, ns, "web", "patched-again")
}
