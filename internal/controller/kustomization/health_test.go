package kustomization

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
)

func deploymentManifest(ns, name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      containers:
        - name: app
          image: %[3]s
`, ns, name, image)
}

// setDeploymentStatus waits until the Deployment ns/name exists at a
// generation the controller applied, then writes the status a deployment
// controller would: Available, or stuck past its progress deadline.
func setDeploymentStatus(t *testing.T, ns, name string, generation int64, available bool) {
	t.Helper()
	ctx := context.Background()
	d := &appsv1.Deployment{}
	eventually(t, fmt.Sprintf("Deployment %s/%s at generation %d", ns, name, generation), func() bool {
		return env.Client.Get(ctx, clientKey(ns, name), d) == nil && d.Generation == generation
	})
	now := metav1.Now()
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1}
	if available {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1
		d.Status.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		}
	} else {
		d.Status.UnavailableReplicas = 1
		d.Status.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				Message: `ReplicaSet "web" has timed out progressing.`, LastUpdateTime: now, LastTransitionTime: now},
		}
	}
	if err := env.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// wait: true checks every applied object with kstatus: an Available
// Deployment makes the Kustomization Healthy, one past its progress
// deadline fails it with HealthCheckFailed.
func TestHealthChecksDeployment(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.27"),
		"deploy/cm.yaml":  configMap(ns, "settings", "x"),
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
	})
	setDeploymentStatus(t, ns, "web", 1, true)
	ks := appliedAt(t, key, r.head())
	if !runtime.IsTrue(ks, meta.HealthyCondition) {
		t.Errorf("Healthy is not True: %+v", ks.Status.Conditions)
	}

	rev := r.push(map[string]string{"deploy/web.yaml": deploymentManifest(ns, "web", "nginx:1.28")})
	setDeploymentStatus(t, ns, "web", 2, false)
	ks = failedWith(t, key, meta.HealthCheckFailedReason)
	if ks.Status.LastAttemptedRevision != rev {
		t.Errorf("lastAttemptedRevision %s, want %s", ks.Status.LastAttemptedRevision, rev)
	}
	if c := runtime.Get(ks, meta.HealthyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != meta.HealthCheckFailedReason {
		t.Errorf("Healthy condition: %+v", c)
	}
	t.Logf("message: %s", readyMessage(ks))
	wantContains(t, "Ready message", readyMessage(ks), "Deployment/"+ns+"/web", "Progress deadline exceeded")
}

// A health wait in progress ends as soon as the source has a new
// revision: the new revision is applied, although the old one's wait had
// an hour left.
func TestNewRevisionCancelsHealthWait(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{"deploy/web.yaml": deploymentManifest(ns, "slow", "nginx:1.27")})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Hour}
	})
	first := r.head()
	waitKs(t, key, "checking health", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastAppliedRevision == first && isUnknown(k, meta.HealthyCondition)
	})

	rev := r.push(map[string]string{"deploy/web.yaml": "", "deploy/cm.yaml": configMap(ns, "done", "x")})
	ks := appliedAt(t, key, rev)
	if !runtime.IsTrue(ks, meta.HealthyCondition) {
		t.Errorf("Healthy: %+v", ks.Status.Conditions)
	}
	if getObject(t, env.Client, "apps/v1", "Deployment", ns, "slow") != nil {
		t.Error("the Deployment of the first revision was not pruned")
	}
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.health.gotk.test
spec:
  group: health.gotk.test
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
`

// healthCheckExprs read the health of a custom resource with CEL: its
// CRD and the resource are applied in stages, "failed" fails the
// Kustomization, "current" makes it healthy.
func TestHealthCheckExprs(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"deploy/crd.yaml":    widgetCRD,
		"deploy/widget.yaml": "apiVersion: health.gotk.test/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: " + ns + "\nspec:\n  size: 3\n",
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
		k.Spec.HealthCheckExprs = []meta.CustomHealthCheck{{
			APIVersion: "health.gotk.test/v1", Kind: "Widget",
			Current: "status.phase == 'Ready'",
			Failed:  "status.phase == 'Failed'",
		}}
	})
	setPhase := func(phase string) {
		t.Helper()
		var w *unstructured.Unstructured
		eventually(t, "the Widget", func() bool {
			w = getObject(t, env.Client, "health.gotk.test/v1", "Widget", ns, "w")
			return w != nil
		})
		_ = unstructured.SetNestedField(w.Object, phase, "status", "phase")
		if err := env.Client.Status().Update(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	setPhase("Failed")
	ks := failedWith(t, key, meta.HealthCheckFailedReason)
	wantContains(t, "Ready message", readyMessage(ks), "Widget/"+ns+"/w", "status.phase == 'Failed'")

	setPhase("Ready")
	ks = appliedAt(t, key, r.head())
	if !runtime.IsTrue(ks, meta.HealthyCondition) {
		t.Errorf("Healthy: %+v", ks.Status.Conditions)
	}
}

func isUnknown(k *kustomizev1.Kustomization, t string) bool {
	c := runtime.Get(k, t)
	return c != nil && c.Status == metav1.ConditionUnknown
}
