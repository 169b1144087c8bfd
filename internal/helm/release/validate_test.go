package release

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/client-go/rest"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
)

// countOpenAPI counts the requests for OpenAPI documents.
type countOpenAPI struct {
	next  http.RoundTripper
	count *atomic.Int64
}

func (c countOpenAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/openapi/") {
		c.count.Add(1)
	}
	return c.next.RoundTrip(req)
}

func deploymentChart(spec string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "app", Version: "1.0.0", Type: "application"},
		Templates: []*common.File{{Name: "templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 0
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
      annotations:
        message: {{ .Values.message | quote }}
    spec:
      containers:
        - name: web
          image: nginx:1.27
` + spec)}},
	}
}

// After one action has found that the API server validates Deployments
// itself, the next reconcile's actions do not download and decode the
// OpenAPI documents again to find out; an unknown field is still refused,
// by the server.
func TestActionsDoNotFetchOpenAPIAgain(t *testing.T) {
	ns := env.Namespace(t)
	// What the other tests' actions found out does not count.
	fieldValidation.kinds.Clear()
	var count atomic.Int64
	runner := func() *Runner {
		t.Helper()
		cfg := rest.CopyConfig(env.Config)
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countOpenAPI{next: rt, count: &count} })
		r := runnerFor(t, cfg, ns)
		r.HooksOnly = true
		return r
	}
	hr := &helmv2.HelmRelease{}
	hr.Namespace, hr.Name = ns, "app"
	ctx := context.Background()
	if _, err := runner().Install(ctx, hr, deploymentChart(""), map[string]any{"message": "one"}, false); err != nil {
		t.Fatal(err)
	}
	if count.Load() == 0 {
		t.Fatal("the first install read no OpenAPI document: this test no longer sees Helm's validation")
	}

	count.Store(0)
	if _, err := runner().Upgrade(ctx, hr, deploymentChart(""), map[string]any{"message": "two"}); err != nil {
		t.Fatal(err)
	}
	if n := count.Load(); n != 0 {
		t.Errorf("the upgrade of the next reconcile read %d OpenAPI documents, want 0", n)
	}

	_, err := runner().Upgrade(ctx, hr, deploymentChart("  bogusField: 1\n"), map[string]any{"message": "three"})
	if err == nil || !strings.Contains(err.Error(), "bogusField") {
		t.Errorf("upgrade with an unknown field: error %v, want one that names bogusField", err)
	}
}
