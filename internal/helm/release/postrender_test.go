package release

import (
	"bytes"
	"strings"
	"testing"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
)

const rendered = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    postrenderer.helm.sh/postrender-filename: app/templates/deployment.yaml
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.25
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  annotations:
    postrenderer.helm.sh/postrender-filename: app/templates/cm.yaml
data:
  greeting: hello
`

// The post-renderers of the spec run in order, then commonMetadata: a
// later patch sees what an earlier one wrote, and the file annotations
// that Helm splits the stream by are kept.
func TestPostRendersInOrderThenCommonMetadata(t *testing.T) {
	hr := &helmv2.HelmRelease{}
	hr.Spec.PostRenderers = []helmv2.PostRenderer{
		{Kustomize: &helmv2.Kustomize{
			Patches: []meta.Patch{{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  greeting: patched\n"}},
			Images:  []meta.Image{{Name: "nginx", NewName: "mirror.local/nginx", NewTag: "1.27"}},
		}},
		{Kustomize: &helmv2.Kustomize{
			Patches: []meta.Patch{{
				Target: &meta.Selector{Kind: "ConfigMap", Name: "web"},
				Patch:  "- op: add\n  path: /data/second\n  value: second\n- op: copy\n  from: /data/greeting\n  path: /data/copied\n",
			}},
		}},
	}
	hr.Spec.CommonMetadata = &meta.CommonMetadata{Labels: map[string]string{"team": "blue"}}
	pr := NewPostRender(hr)
	out, err := pr.Renderer.Run(bytes.NewBufferString(rendered))
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"image: mirror.local/nginx:1.27", "greeting: patched", "copied: patched", "team: 'blue'",
		"postrenderer.helm.sh/postrender-filename: app/templates/cm.yaml"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if pr.PostRenderersDigest == "" || pr.CommonMetadataDigest == "" || len(pr.RenderDigest()) != 32 {
		t.Errorf("digests %+v %q", pr, pr.RenderDigest())
	}
	hr.Spec.PostRenderers[1].Kustomize.Patches[0].Patch = "- op: remove\n  path: /data/greeting\n"
	if NewPostRender(hr).RenderDigest() == pr.RenderDigest() {
		t.Error("a changed patch keeps the render digest")
	}
	if d := NewPostRender(&helmv2.HelmRelease{}).RenderDigest(); d != "" {
		t.Errorf("no post-rendering has digest %q", d)
	}
}

// A patch that cannot apply fails with the index of its post-renderer.
func TestBadPatchNamesItsPostRenderer(t *testing.T) {
	hr := &helmv2.HelmRelease{}
	hr.Spec.PostRenderers = []helmv2.PostRenderer{
		{Kustomize: &helmv2.Kustomize{Images: []meta.Image{{Name: "nginx", NewTag: "1.27"}}}},
		{Kustomize: &helmv2.Kustomize{Patches: []meta.Patch{{
			Target: &meta.Selector{Kind: "ConfigMap"},
			Patch:  "- op: test\n  path: /data/greeting\n  value: goodbye\n",
		}}}},
	}
	_, err := NewPostRender(hr).Renderer.Run(bytes.NewBufferString(rendered))
	if err == nil || !strings.Contains(err.Error(), "spec.postRenderers[1].kustomize") {
		t.Fatalf("error %v, want one naming spec.postRenderers[1]", err)
	}
	t.Log(err)
}
