package ssa

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e },
		testenv.WithAPIServerFlag("service-cluster-ip-range", "10.96.0.0/16")))
}

// requestCounter counts the HTTP requests a client sends, by verb, with
// dry-run requests counted apart.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		verb := r.Method
		if r.URL.Query().Get("dryRun") != "" {
			verb += "(dry-run)"
		}
		c.mu.Lock()
		c.counts[verb]++
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
}

// writes counts PATCH, POST, PUT and DELETE requests, dry-runs included.
func (c *requestCounter) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for verb, count := range c.counts {
		if !strings.HasPrefix(verb, "GET") {
			n += count
		}
	}
	return n
}

// dryRuns counts the dry-run requests.
func (c *requestCounter) dryRuns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for verb, count := range c.counts {
		if strings.HasSuffix(verb, "(dry-run)") {
			n += count
		}
	}
	return n
}

func (c *requestCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, count := range c.counts {
		n += count
	}
	return n
}

func (c *requestCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.counts)
}

// newManager returns a Manager for the test control plane whose client
// counts its requests. It applies as kustomize-controller for the
// Kustomization "apps" in "flux-system".
func newManager(t testing.TB) (*Manager, *requestCounter) {
	t.Helper()
	testenv.Require(t)
	counter := &requestCounter{counts: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.Wrap(counter.wrap)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	m := New(c, "kustomize-controller", KustomizationOwner("apps", "flux-system"))
	m.PollInterval = 200 * time.Millisecond
	return m, counter
}

// objects decodes YAML documents separated by "---" lines.
func objects(t testing.TB, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		out = append(out, u)
	}
	return out
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// get reads an object from the control plane, failing the test on error.
func get(t testing.TB, apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, namespace, name, err)
	}
	return u
}

// randName returns a short random DNS label with prefix.
func randName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// actions maps each entry's "Kind/ns/name" to its action.
func actions(cs *ChangeSet) map[string]Action {
	out := map[string]Action{}
	for _, e := range cs.Entries {
		out[e.Ref.String()] = e.Action
	}
	return out
}

// widgetCRD returns a namespaced CRD of kind Widget in a group of its own,
// with a status subresource and free-form spec and status.
func widgetCRD(group string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group)
}

func deployment(ns, name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      containers:
      - {name: app, image: %[3]s}
`, ns, name, image)
}
