package kustomization

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// deletionPolicy WaitForTermination waits for spec.timeout at most: an
// object that never goes away (its finalizer is never removed) does not
// keep the Kustomization forever; a warning event names what is left.
func TestWaitForTerminationGivesUpAfterTimeout(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	const finalizer = "gotk.test/never-done"
	held := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: " + ns +
		"\n  finalizers: [" + finalizer + "]\ndata:\n  value: x\n"
	r := newRepo(t, ns, map[string]string{"deploy/held.yaml": held, "deploy/free.yaml": configMap(ns, "free", "y")})
	t.Cleanup(func() {
		cm, err := getCM(t, ns, "held")
		if err == nil {
			cm.Finalizers = nil
			_ = env.Client.Update(context.Background(), cm)
		}
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.DeletionPolicy = kustomizev1.DeletionPolicyWaitForTermination
		k.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Second}
	})
	appliedAt(t, key, r.head())

	if err := env.Client.Delete(ctx, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Kustomization gone", func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, key, &kustomizev1.Kustomization{}))
	})
	var warning string
	eventually(t, "a warning event about the objects left", func() bool {
		for _, ev := range events.of(ns, key.Name) {
			if ev.Severity == runtime.SeverityError && strings.Contains(ev.Message, "WaitForTermination") {
				warning = ev.Message
			}
		}
		return warning != ""
	})
	wantContains(t, "warning", warning, "ConfigMap/"+ns+"/held", "2s")
	if strings.Contains(warning, "ConfigMap/"+ns+"/free") {
		t.Errorf("the warning names an object that is gone: %s", warning)
	}
	if _, exists := cmValue(t, ns, "free", "value"); exists {
		t.Error("the object without finalizer was not deleted")
	}
}
