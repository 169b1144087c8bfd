package ssa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gotk-dev/gotk/api/meta"
)

// setStatus writes status on the object through its status subresource,
// as a controller would.
func setStatus(t *testing.T, apiVersion, kind, ns, name string, status map[string]any) {
	t.Helper()
	live := get(t, apiVersion, kind, ns, name)
	if _, ok := status["observedGeneration"]; ok {
		status["observedGeneration"] = live.GetGeneration()
	}
	live.Object["status"] = status
	if err := env.Client.Status().Update(context.Background(), live); err != nil {
		t.Fatalf("update status of %s %s: %v", kind, name, err)
	}
}

func deploymentStatus(available bool, progressing map[string]any) map[string]any {
	conds := []any{progressing}
	if available {
		conds = append(conds, map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok"})
	}
	return map[string]any{
		"observedGeneration": int64(0), "replicas": int64(2), "updatedReplicas": int64(2),
		"readyReplicas": int64(2), "availableReplicas": int64(2), "conditions": conds,
	}
}

func TestWaitDeployments(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	m, _ := newManager(t)
	cs, err := m.Apply(ctx, objects(t, deployment(ns, "good", "nginx")+"---\n"+deployment(ns, "stuck", "nginx")+"---\n"+deployment(ns, "late", "nginx")), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(name string) []ObjectRef {
		r, _ := cs.Find(ObjectRef{Group: "apps", Kind: "Deployment", Namespace: ns, Name: name})
		return []ObjectRef{r.Ref}
	}

	setStatus(t, "apps/v1", "Deployment", ns, "good", deploymentStatus(true,
		map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "done"}))
	if err := m.Wait(ctx, ref("good"), time.Minute, nil); err != nil {
		t.Errorf("wait for an available Deployment: %v", err)
	}

	setStatus(t, "apps/v1", "Deployment", ns, "stuck", deploymentStatus(false,
		map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet has timed out progressing"}))
	start := time.Now()
	err = m.Wait(ctx, append(ref("good"), ref("stuck")...), 10*time.Minute, nil)
	var herr *HealthError
	if !errors.As(err, &herr) || !herr.Failed {
		t.Fatalf("err = %v, want a failed *HealthError", err)
	}
	if !strings.Contains(err.Error(), "Deployment/"+ns+"/stuck: Failed: Progress deadline exceeded") || strings.Contains(err.Error(), "/good") {
		t.Errorf("error does not list the failed Deployment alone: %v", err)
	}
	if time.Since(start) > 5*time.Minute {
		t.Errorf("Wait did not stop at the first failure")
	}

	// A Deployment that never reports: the timeout names it and why.
	err = m.Wait(ctx, ref("late"), time.Second, nil)
	if !errors.As(err, &herr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout *HealthError", err)
	}
	if !strings.Contains(err.Error(), "Deployment/"+ns+"/late: InProgress") {
		t.Errorf("timeout error does not list the Deployment: %v", err)
	}

	// The caller cancels when a new revision arrives.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(300*time.Millisecond, cancel)
	if err := m.Wait(cctx, ref("late"), 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestWaitCustomHealthCheck(t *testing.T) {
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	group := randName("h") + ".test.gotk.dev"
	m, _ := newManager(t)
	t.Cleanup(func() { deleteCRD(t, "widgets."+group) })
	cs, err := m.Apply(ctx, objects(t, fmt.Sprintf(`%[3]s
---
apiVersion: %[1]s/v1
kind: Widget
metadata: {name: ready, namespace: %[2]s}
spec: {size: 1}
---
apiVersion: %[1]s/v1
kind: Widget
metadata: {name: broken, namespace: %[2]s}
spec: {size: 1}
`, group, ns, widgetCRD(group))), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []meta.CustomHealthCheck{{
		APIVersion: group + "/v1",
		Kind:       "Widget",
		InProgress: "!has(self.status) || self.status.phase == 'Pending'",
		Failed:     "status.phase == 'Failed'",
		Current:    "status.phase == 'Ready' && self.status.size == self.spec.size",
	}}
	refs := cs.Refs()
	widget := func(name string) []ObjectRef {
		e, _ := cs.Find(ObjectRef{Group: group, Kind: "Widget", Namespace: ns, Name: name})
		return []ObjectRef{e.Ref}
	}
	_ = refs

	// No status yet: in progress until the timeout.
	err = m.Wait(ctx, widget("ready"), time.Second, checks)
	if err == nil || !strings.Contains(err.Error(), "Widget/"+ns+"/ready: InProgress") {
		t.Fatalf("err = %v, want the Widget in progress", err)
	}

	done := make(chan error, 1)
	go func() { done <- m.Wait(ctx, widget("ready"), time.Minute, checks) }()
	setStatus(t, group+"/v1", "Widget", ns, "ready", map[string]any{"phase": "Ready", "size": int64(1)})
	if err := <-done; err != nil {
		t.Errorf("wait for a ready Widget: %v", err)
	}

	setStatus(t, group+"/v1", "Widget", ns, "broken", map[string]any{"phase": "Failed"})
	err = m.Wait(ctx, append(widget("ready"), widget("broken")...), time.Minute, checks)
	var herr *HealthError
	if !errors.As(err, &herr) || !herr.Failed || len(herr.Objects) != 1 || herr.Objects[0].Ref.Name != "broken" {
		t.Fatalf("err = %v, want only the broken Widget failed", err)
	}

	if err := m.Wait(ctx, widget("ready"), time.Second, []meta.CustomHealthCheck{{APIVersion: "x/v1", Kind: "X", Current: "status.("}}); err == nil || !strings.Contains(err.Error(), "current") {
		t.Errorf("bad expression: err = %v, want a compile error naming the field", err)
	}
}

func TestWaitNamespaceIsReady(t *testing.T) {
	// kstatus reads a Namespace without conditions as Current.
	m, _ := newManager(t)
	ns := env.Namespace(t)
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(ns)
	if err := m.Wait(ctxFor(t), []ObjectRef{RefOf(u)}, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
}
