package release

import (
	"sync"

	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// AppliedKey names an object that an action wrote.
type AppliedKey struct {
	Group, Kind, Namespace, Name string
}

// recordingClient is Helm's Kubernetes client, which also keeps the
// objects that the API server returned to the creates and updates of the
// current action: what the release's objects are right after it, with
// their resourceVersions. Drift detection starts from them instead of
// dry-running objects that Helm has just applied (see Runner.Applied).
type recordingClient struct {
	*kube.Client
	mu      sync.Mutex
	applied map[AppliedKey]*unstructured.Unstructured
}

func (c *recordingClient) Create(resources kube.ResourceList, options ...kube.ClientCreateOption) (*kube.Result, error) {
	res, err := c.Client.Create(resources, options...)
	if err == nil && res != nil {
		c.record(res.Created)
	}
	return res, err
}

func (c *recordingClient) Update(original, target kube.ResourceList, options ...kube.ClientUpdateOption) (*kube.Result, error) {
	res, err := c.Client.Update(original, target, options...)
	if err == nil && res != nil {
		c.record(res.Created)
		c.record(res.Updated)
	}
	return res, err
}

func (c *recordingClient) record(list kube.ResourceList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, info := range list {
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok || u.GetResourceVersion() == "" {
			continue
		}
		gvk := u.GroupVersionKind()
		c.applied[AppliedKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}] = u
	}
}

// reset forgets what an earlier action applied.
func (c *recordingClient) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied = map[AppliedKey]*unstructured.Unstructured{}
}

func (c *recordingClient) lookup(k AppliedKey) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied[k]
}
