package install

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/testenv"
)

var env *testenv.Env

// The control plane starts without CRDs: installing them is under test.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e }, testenv.WithoutCRDs()))
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The API server accepts every object of every install shape, checked
// with server-side dry-run apply (nothing is stored).
func TestManifestsPassServerSideDryRun(t *testing.T) {
	for name, mutate := range optionSets {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, 2*time.Minute)
			ns := env.Namespace(t)
			m := generate(t, func(o *Options) {
				if mutate != nil {
					mutate(o)
				}
				o.Namespace = ns
			})
			objs, err := m.All()
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range objs {
				if err := ApplyObject(ctx, env.Client, u, client.DryRunAll); err != nil {
					t.Errorf("dry run: %v", err)
				}
			}
			// Nothing was stored.
			d := &appsv1.Deployment{}
			name := m.Options.DeploymentNames()[0]
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); !apierrors.IsNotFound(err) {
				t.Errorf("dry run stored Deployment %s: %v", name, err)
			}
		})
	}
}

// Install applies the CRDs and waits until they are Established, applies
// the rest, and reports the Deployments that never become Available (the
// test control plane has no nodes). Discover then finds it all and
// Uninstall removes it, a gotk object with a finalizer included.
func TestInstallDiscoverUninstall(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	ns := env.Namespace(t)
	m := generate(t, func(o *Options) { o.Namespace = ns; o.Components = []string{"source", "helm"} })

	var phases []string
	err := Install(ctx, env.Client, m, InstallOptions{
		Timeout:  2 * time.Second,
		Interval: 100 * time.Millisecond,
		OnProgress: func(p Progress) {
			if p.Ready == p.Total {
				phases = append(phases, p.Phase)
			}
		},
	})
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("Install: %v, want a NotReadyError", err)
	}
	if !slices.Contains(phases, "CRDs established") {
		t.Errorf("the CRD wait did not finish: %v", phases)
	}
	var waiting []string
	for _, o := range nr.Objects {
		waiting = append(waiting, o.Ref.String())
		if o.Status == status.CurrentStatus {
			t.Errorf("%s is Current but listed", o.Ref)
		}
	}
	want := []string{"Deployment " + ns + "/source-controller", "Deployment " + ns + "/helm-controller"}
	if !slices.Equal(waiting, want) || nr.Want != "Available" {
		t.Errorf("not ready: %v (%s), want %v", waiting, nr.Want, want)
	}
	for _, crd := range m.CRDs {
		live := &apiextensionsv1.CustomResourceDefinition{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: crd.Name}, live); err != nil {
			t.Fatal(err)
		}
		if live.Labels[PartOfLabel] != PartOfValue {
			t.Errorf("CRD %s lacks the gotk labels", crd.Name)
		}
	}
	// Applying again changes nothing and fails the same way.
	if err := Install(ctx, env.Client, m, InstallOptions{Timeout: time.Second}); !errors.As(err, &nr) {
		t.Fatalf("second Install: %v", err)
	}

	// A user's GitRepository with the gotk finalizer, in another namespace.
	other := env.Namespace(t)
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: other, Finalizers: []string{Finalizer}},
		Spec:       sourcev1.GitRepositorySpec{URL: "https://example.com/app.git", Interval: metav1.Duration{Duration: time.Minute}},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}

	inv, err := Discover(ctx, env.Client, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Custom) != 1 || inv.Custom[0].GVK.Kind != "GitRepository" ||
		!slices.Equal(inv.Custom[0].Namespaces, []NamespaceCount{{Namespace: other, Count: 1}}) {
		t.Errorf("custom objects %+v", inv.Custom)
	}
	kinds := map[string]int{}
	for _, r := range inv.Installed {
		kinds[r.GVK.Kind]++
	}
	wantKinds := map[string]int{
		"Deployment": 2, "Service": 2, "NetworkPolicy": 2, "ServiceAccount": 2, "Role": 1, "RoleBinding": 1,
		"ClusterRole": 1, "ClusterRoleBinding": 2, "CustomResourceDefinition": 15, "Namespace": 1,
	}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("found %d %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if last := inv.Installed[len(inv.Installed)-1]; last.GVK.Kind != "Namespace" {
		t.Errorf("the namespace must be deleted last, not %s", last)
	}

	var steps []string
	err = Uninstall(ctx, env.Client, inv, UninstallOptions{
		KeepNamespace: true, Timeout: time.Minute, Interval: 100 * time.Millisecond,
		OnStep: func(s string) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatalf("Uninstall: %v (steps %v)", err, steps)
	}
	if !slices.Contains(steps, "removed finalizer from GitRepository "+other+"/app") {
		t.Errorf("steps %v", steps)
	}
	for _, crd := range m.CRDs {
		err := env.Client.Get(ctx, client.ObjectKey{Name: crd.Name}, &apiextensionsv1.CustomResourceDefinition{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("CRD %s still there: %v", crd.Name, err)
		}
	}
	left, err := Discover(ctx, env.Client, ns)
	if err != nil {
		t.Fatal(err)
	}
	// Only the kept namespace is left.
	if len(left.Installed) != 1 || left.Installed[0].GVK.Kind != "Namespace" {
		t.Errorf("left after uninstall: %v", left.Installed)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); err != nil {
		t.Errorf("kept namespace: %v", err)
	}
}
