package kustomization

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A build that fetches a remote resource is run again at each reconcile:
// what the remote holds changes without the artifact changing, and must
// reach the cluster without a controller restart.
func TestRemoteResourceIsFetchedAgain(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	var value atomic.Value
	value.Store("one")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, configMap(ns, "fetched", value.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	r := newRepo(t, ns, map[string]string{
		"deploy/kustomization.yaml": "resources:\n  - local.yaml\n  - " + srv.URL + "/cm.yaml\n",
		"deploy/local.yaml":         configMap(ns, "local", "x"),
	})
	key := newKustomization(t, ns, "app", "./deploy", nil)
	appliedAt(t, key, r.head())
	if v, _ := cmValue(t, ns, "fetched", "value"); v != "one" {
		t.Fatalf("fetched = %q, want one", v)
	}

	value.Store("two")
	requestReconcile(t, key)
	eventually(t, "the remote resource's new value applied", func() bool {
		v, _ := cmValue(t, ns, "fetched", "value")
		return v == "two"
	})
}
