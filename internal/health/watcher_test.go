package health

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/ssa"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }))
}

const ownerLabel = "health.gotk.test/owner"

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(env.Config, hc)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfigAndClient(env.Config, hc)
	if err != nil {
		t.Fatal(err)
	}
	w := New(dyn, mapper, ownerLabel)
	w.Linger = 0
	return w
}

// next waits for the notification of an owner.
func next(t *testing.T, w *Watcher, owner types.NamespacedName) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev := <-w.Events():
			if ev.Object.GetNamespace() == owner.Namespace && ev.Object.GetName() == owner.Name {
				return
			}
		case <-timeout:
			t.Fatalf("no notification for %s", owner)
		}
	}
}

// A wait reads its objects from the shared watch, notifies its owner when
// one changes, reads a custom health check, and stops the watch when no
// wait needs it any more.
func TestWaitFollowsObjects(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	w := newWatcher(t)
	owner := types.NamespacedName{Namespace: ns, Name: "owner"}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns, Labels: map[string]string{ownerLabel: "x"}}}
	ref := ssa.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "settings"}
	err := w.Start(owner, Spec{
		Targets: []Target{{Ref: ref}},
		Checks:  []meta.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap", Current: "metadata.annotations.state == 'done'", Failed: "metadata.annotations.state == 'broken'"}},
		Token:   "one",
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.Watches() != 1 {
		t.Errorf("%d watches, want 1", w.Watches())
	}

	// Not there yet: the object is pending, not found.
	next(t, w, owner) // the first List is done
	res, ok := w.Check(owner)
	if !ok || len(res.Pending) != 1 || res.Pending[0].Status != status.NotFoundStatus {
		t.Fatalf("before the object exists: %+v", res)
	}

	cm.Annotations = map[string]string{"state": "working"}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	next(t, w, owner)
	if res, _ = w.Check(owner); len(res.Pending) != 1 || res.Pending[0].Status != status.InProgressStatus {
		t.Fatalf("working: %+v", res)
	}
	if s := Summary(res.Pending, 5); !strings.HasPrefix(s, "1 object: ConfigMap/"+ns+"/settings (") {
		t.Errorf("summary: %s", s)
	}

	cm.Annotations["state"] = "broken"
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	next(t, w, owner)
	if res, _ = w.Check(owner); len(res.Failed) != 1 {
		t.Fatalf("broken: %+v", res)
	}

	cm.Annotations["state"] = "done"
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	next(t, w, owner)
	if res, _ = w.Check(owner); !res.Healthy() {
		t.Fatalf("done: %+v", res)
	}

	// The same token keeps the wait, its start included.
	if err := w.Start(owner, Spec{Targets: []Target{{Ref: ref}}, Token: "one", Started: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if again, _ := w.Check(owner); !again.Started.Equal(res.Started) {
		t.Errorf("the wait was replaced: started %s, then %s", res.Started, again.Started)
	}
	w.Stop(owner)
	if _, ok := w.Check(owner); ok {
		t.Error("the wait is still there after Stop")
	}
	if w.Watches() != 0 {
		t.Errorf("%d watches after the last wait stopped, want 0", w.Watches())
	}
}

// A copy of an object older than the resourceVersion the owner applied is
// not read: its status describes what was there before.
func TestWaitIgnoresCopiesOlderThanTheApply(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	w := newWatcher(t)
	owner := types.NamespacedName{Namespace: ns, Name: "owner"}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(ns)
	u.SetName("settings")
	u.SetLabels(map[string]string{ownerLabel: "x"})
	if err := env.Client.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	ref := ssa.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "settings"}
	err := w.Start(owner, Spec{Targets: []Target{{Ref: ref, ResourceVersion: "999999999999"}}, Token: "one"})
	if err != nil {
		t.Fatal(err)
	}
	next(t, w, owner)
	res, _ := w.Check(owner)
	if len(res.Pending) != 1 || res.Pending[0].Status != status.InProgressStatus {
		t.Fatalf("an older copy was read: %+v", res)
	}
}

// A retained kind stays watched with no wait, and WatchedObject reads its
// labelled objects from the watch: present ones as they are, absent and
// unlabelled ones not at all.
func TestRetainedWatchAnswersForItsKind(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	w := newWatcher(t)
	ref := func(name string) ssa.ObjectRef {
		return ssa.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}
	}
	labelled := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "labelled", Namespace: ns, Labels: map[string]string{ownerLabel: "x"}}}
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns}}
	for _, cm := range []*corev1.ConfigMap{labelled, plain} {
		if err := env.Client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := w.WatchedObject(ref("labelled")); ok {
		t.Error("an object read before its kind is watched")
	}
	w.Retain(ref("labelled").GroupVersionKind())
	w.Retain(ref("labelled").GroupVersionKind())
	if w.Watches() != 1 {
		t.Errorf("%d watches, want 1", w.Watches())
	}
	deadline := time.Now().Add(time.Minute)
	var got metav1.Object
	for got == nil {
		if o, ok := w.WatchedObject(ref("labelled")); ok && o.GetResourceVersion() == labelled.ResourceVersion {
			got = o
		} else if time.Now().After(deadline) {
			t.Fatal("the retained watch never showed the labelled object")
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, name := range []string{"plain", "absent"} {
		if o, ok := w.WatchedObject(ref(name)); ok {
			t.Errorf("%s: read from the watch: %v", name, o)
		}
	}
	// With Linger 0, a wait's watch stops as the wait ends; a retained
	// one runs on.
	owner := types.NamespacedName{Namespace: ns, Name: "owner"}
	if err := w.Start(owner, Spec{Targets: []Target{{Ref: ref("labelled")}}, Token: "t"}); err != nil {
		t.Fatal(err)
	}
	w.Stop(owner)
	if w.Watches() != 1 {
		t.Errorf("%d watches after the wait stopped, want the retained 1", w.Watches())
	}
}
