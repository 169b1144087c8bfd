package helmrelease

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/ssa"
	"github.com/gotk-dev/gotk/internal/testenv"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// waitFor polls the HelmRelease until cond holds, failing after 120s with
// its status.
func waitFor(t *testing.T, key client.ObjectKey, cond func(*helmv2.HelmRelease) bool) *helmv2.HelmRelease {
	t.Helper()
	obj := &helmv2.HelmRelease{}
	deadline := time.Now().Add(120 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), key, obj); err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			status, _ := json.MarshalIndent(obj.Status, "", "  ")
			t.Fatalf("%s: condition not met; status: %s", key, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readyWith waits until the HelmRelease is Ready for its generation with
// the chart version and values digest of its history's newest release.
func readyWith(t *testing.T, key client.ObjectKey, chartVersion string) *helmv2.HelmRelease {
	t.Helper()
	return waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		latest := o.Status.History.Latest()
		return runtime.IsReady(o) && o.Status.ObservedGeneration == o.Generation &&
			latest != nil && latest.ChartVersion == chartVersion && latest.Status == "deployed" &&
			latest.ConfigDigest == o.Status.LastAttemptedConfigDigest
	})
}

// notReadyWith waits until Ready is False with reason for the current
// generation, and logs the message users see.
func notReadyWith(t *testing.T, key client.ObjectKey, reason string) *helmv2.HelmRelease {
	t.Helper()
	obj := waitFor(t, key, func(o *helmv2.HelmRelease) bool {
		return runtime.IsFalse(o, meta.ReadyCondition) && runtime.Reason(o, meta.ReadyCondition) == reason &&
			o.Status.ObservedGeneration == o.Generation
	})
	t.Logf("%s: Ready=False %s: %s", key.Name, reason, runtime.Message(obj, meta.ReadyCondition))
	return obj
}

// chartServer starts a chart repository with the given charts and a
// HelmRepository for it in ns.
func chartServer(t *testing.T, ns string, charts ...hs.Chart) *hs.Server {
	t.Helper()
	srv := hs.Start(t, hs.Options{})
	for _, c := range charts {
		hs.Package(t, c, srv.Dir)
	}
	srv.Reindex(t)
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	return srv
}

// newRelease creates a HelmRelease of chart app from the repository
// "charts" at version, with the wait disabled (no controllers run
// Deployments here), and mutate applied.
func newRelease(t *testing.T, ns, name, chartName, version string, mutate func(*helmv2.HelmRelease)) client.ObjectKey {
	t.Helper()
	obj := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart:     chartName,
				Version:   version,
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				Interval:  &metav1.Duration{Duration: time.Hour},
			}},
			Install: &helmv2.Install{DisableWait: true},
			Upgrade: &helmv2.Upgrade{DisableWait: true},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

func update(t *testing.T, key client.ObjectKey, mutate func(*helmv2.HelmRelease)) {
	t.Helper()
	for {
		obj := &helmv2.HelmRelease{}
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			t.Fatal(err)
		}
		mutate(obj)
		err := env.Client.Update(context.Background(), obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

// values encodes v as spec.values.
func values(t *testing.T, v map[string]any) *meta.JSON {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &meta.JSON{Raw: data}
}

// configMap returns the ConfigMap name in ns, or nil.
func configMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	return cm
}

// greetingIs waits until the release's ConfigMap says greeting.
func greetingIs(t *testing.T, ns, name, greeting string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cm := configMap(t, ns, name)
		if cm != nil && cm.Data["greeting"] == greeting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ConfigMap %s/%s: %v, want greeting %q", ns, name, cm, greeting)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// releaseSecrets lists the Helm storage Secrets of release name in ns.
func releaseSecrets(t *testing.T, ns, name string) []corev1.Secret {
	t.Helper()
	list := &corev1.SecretList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns),
		client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// events returns the messages of the events recorded for the HelmRelease
// with reason.
func events(t *testing.T, ns, name, reason string) []string {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == helmv2.HelmReleaseKind && e.InvolvedObject.Name == name && e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}

// waitEvent waits for an event with reason whose message contains text.
func waitEvent(t *testing.T, ns, name, reason, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range events(t, ns, name, reason) {
			if strings.Contains(m, text) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event containing %q for %s/%s; have %q", reason, text, ns, name, events(t, ns, name, reason))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// appChart is the test chart: a ConfigMap named after the release with
// the greeting value, plus, when the values ask for them, an object the
// API server refuses (fail: true) or a Service (service: true).
func appChart(version string) hs.Chart {
	return hs.Chart{
		Name: "app", Version: version, Values: "greeting: hello\n",
		Templates: map[string]string{
			"templates/extra.yaml": "{{- if or .Values.extra .Values.nested .Values.auth }}\napiVersion: v1\nkind: ConfigMap\n" +
				"metadata:\n  name: {{ .Release.Name }}-extra\ndata:\n  extra: {{ .Values.extra | quote }}\n" +
				"  nested: {{ printf \"a=%v,b=%v\" .Values.nested.a .Values.nested.b | quote }}\n" +
				"  token: {{ .Values.auth.token | quote }}\n{{- end }}\n",
			"templates/bad.yaml": "{{- if .Values.fail }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n{{- end }}\n",
			"templates/service.yaml": "{{- if .Values.service }}\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n" +
				"  ports:\n  - port: 80\n{{- end }}\n",
			"templates/deployment.yaml": "{{- if .Values.deployment }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n" +
				"spec:\n  replicas: 0\n  selector:\n    matchLabels:\n      app: {{ .Release.Name }}\n  template:\n    metadata:\n" +
				"      labels:\n        app: {{ .Release.Name }}\n    spec:\n      containers:\n      - name: app\n        image: nginx\n{{- end }}\n",
			"templates/tests/test.yaml": "{{- if .Values.tests }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n" +
				"  name: {{ if .Values.testFail }}Bad_Test_Name{{ else }}{{ .Release.Name }}-test{{ end }}\n" +
				"  annotations:\n    helm.sh/hook: test\n{{- end }}\n",
			"templates/broken.yaml": "{{- if .Values.broken }}{{ fail \"values.broken is set: this chart refuses to render\" }}{{- end }}\n",
		},
	}
}

// waitGone waits until the HelmRelease no longer exists.
func waitGone(t *testing.T, key client.ObjectKey) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := env.Client.Get(context.Background(), key, &helmv2.HelmRelease{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", key)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requests records the requests sent through a rest.Config, as
// "VERB path?query".
type requests struct {
	mu   sync.Mutex
	seen []string
}

func (c *requests) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		line := req.Method + " " + req.URL.Path
		if req.URL.RawQuery != "" {
			line += "?" + req.URL.RawQuery
		}
		c.mu.Lock()
		c.seen = append(c.seen, line)
		c.mu.Unlock()
		return next.RoundTrip(req)
	})
}

// since returns the requests recorded after the first n whose line
// contains each of parts.
func (c *requests) since(n int, parts ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
next:
	for _, l := range c.seen[n:] {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// count returns how many requests were recorded so far.
func (c *requests) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// watchedAs waits until the shared watches of the reconciler show obj
// with resourceVersion rv, or no longer show it when rv is "" (deleted),
// so that a reconcile that follows sees the change the test made.
func watchedAs(t *testing.T, obj client.Object, rv string) {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, env.Client.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	ref := ssa.ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	deadline := time.Now().Add(30 * time.Second)
	for {
		o, ok := reconciler.Health.WatchedObject(ref)
		if (rv == "" && !ok) || (ok && o.GetResourceVersion() == rv) || (rv != "" && !ok) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shared watch of %s still has resourceVersion %s, want %q", ref, o.GetResourceVersion(), rv)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
