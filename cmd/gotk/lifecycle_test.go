package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/install"
)

// The whole life of an install on a real API server: check --pre, install
// (whose Deployments never become Available, as the test control plane has
// no nodes), version, check, uninstall --dry-run, a declined uninstall,
// and uninstall --silent with a user's GitRepository left in another
// namespace.
func TestInstallCheckUninstall(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	// A namespace of the test's own rather than gotk-system, so that the
	// test can run again on the same control plane (which has no namespace
	// controller to finish deleting a namespace).
	ns := env.Namespace(t)
	g := func(t *testing.T, stdin string, args ...string) result {
		return gotk(t, stdin, append(args, "-n", ns)...)
	}

	r := g(t, "", "check", "--pre")
	if r.code != 0 || !strings.Contains(r.stdout, "✔ Kubernetes 1.") || !strings.Contains(r.stdout, "✔ you may create CustomResourceDefinitions") {
		t.Fatalf("check --pre:\n%s", r)
	}

	r = g(t, "", "check")
	if r.code == 0 || !strings.Contains(r.stdout, "✗ no gotk CRD is installed: run gotk install") {
		t.Fatalf("check before install must fail and say to install:\n%s", r)
	}

	r = g(t, "", "install", "--components=source,kustomize", "--timeout=3s")
	if r.code == 0 {
		t.Fatalf("install must fail when the controllers do not become Available:\n%s", r)
	}
	for _, want := range []string{
		"install timed out: these Deployments are not Available after 3s",
		"Deployment " + ns + "/source-controller",
		"Deployment " + ns + "/kustomize-controller",
		"gotk check -n " + ns,
		"✔ applied 15 CRDs",
		"✔ CRDs established: 15/15",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("install output lacks %q:\n%s", want, r)
		}
	}
	for _, crd := range crdNames(t) {
		live := &apiextensionsv1.CustomResourceDefinition{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: crd}, live); err != nil {
			t.Fatalf("CRD %s: %v", crd, err)
		}
		if !established(live) {
			t.Errorf("CRD %s is not Established", crd)
		}
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "source-controller"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kustomize-controller"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "source-controller"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kustomize-controller"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gotk-source-controller-" + ns}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gotk-kustomize-controller-" + ns}},
	} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Errorf("after install: %T %s: %v", obj, obj.GetName(), err)
		}
	}
	if d := (&appsv1.Deployment{}); env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "helm-controller"}, d) == nil {
		t.Errorf("helm-controller was not asked for")
	}

	r = g(t, "", "version")
	tag := install.DefaultVersion()
	if r.code != 0 || !strings.Contains(r.stdout, "kustomize-controller: "+tag+"\n") || !strings.Contains(r.stdout, "source-controller: "+tag+"\n") {
		t.Errorf("version:\n%s", r)
	}

	r = g(t, "", "check")
	if r.code == 0 {
		t.Errorf("check must fail while the controllers are not Available:\n%s", r)
	}
	for _, want := range []string{
		"✔ gitrepositories.source.toolkit.fluxcd.io: v1\n",
		"✔ alerts.notification.toolkit.fluxcd.io: v1beta3\n",
		"✗ controller kustomize-controller is not Available",
		"✗ controller source-controller is not Available",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r)
		}
	}
	if !strings.Contains(r.stderr, "check failed with 2 problem(s)") {
		t.Errorf("check must end with the list of problems:\n%s", r)
	}

	// A user's GitRepository in another namespace, with the finalizer a
	// controller would have put on it.
	other := env.Namespace(t)
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: other, Finalizers: []string{install.Finalizer}},
		Spec:       sourcev1.GitRepositorySpec{URL: "https://example.com/podinfo.git", Interval: metav1.Duration{Duration: time.Minute}},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	// And a workload, as a Kustomization would have applied it.
	workload := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: other, Labels: map[string]string{
		"kustomize.toolkit.fluxcd.io/name": "podinfo", "kustomize.toolkit.fluxcd.io/namespace": other,
	}}}
	if err := env.Client.Create(ctx, workload); err != nil {
		t.Fatal(err)
	}
	warning := fmt.Sprintf("GitRepository: 1 in %s", other)

	r = g(t, "", "uninstall", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would delete Deployment "+ns+"/source-controller\n") ||
		!strings.Contains(r.stdout, "would delete CustomResourceDefinition gitrepositories.source.toolkit.fluxcd.io\n") ||
		!strings.Contains(r.stderr, warning) {
		t.Fatalf("uninstall --dry-run:\n%s", r)
	}
	r = g(t, "n\n", "uninstall")
	if r.code == 0 || !strings.Contains(r.stderr, "[y/N]") || !strings.Contains(r.stderr, "cancelled: nothing was changed") {
		t.Fatalf("a declined uninstall must fail without changes:\n%s", r)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), &sourcev1.GitRepository{}); err != nil {
		t.Fatalf("dry run or declined uninstall changed something: %v", err)
	}

	r = g(t, "", "uninstall", "--silent")
	if r.code != 0 {
		t.Fatalf("uninstall --silent:\n%s", r)
	}
	for _, want := range []string{
		"deleting the CRDs deletes these gotk objects",
		warning,
		"The workloads they applied stay in the cluster",
		"✔ gotk is uninstalled",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, r)
		}
	}
	if !strings.Contains(r.stdout, "removed finalizer from GitRepository "+other+"/podinfo") {
		t.Errorf("uninstall did not report the finalizer:\n%s", r)
	}
	for _, crd := range crdNames(t) {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
			t.Errorf("CRD %s left: %v", crd, err)
		}
	}
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "source-controller"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "source-controller"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gotk-source-controller-" + ns}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gotk-kustomize-controller-" + ns}},
	} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("after uninstall: %T %s: %v", obj, obj.GetName(), err)
		}
	}
	// The namespace is being deleted (the test control plane has no
	// namespace controller to finish it).
	gone := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, gone); err == nil && gone.DeletionTimestamp == nil {
		t.Errorf("namespace %s is not being deleted", ns)
	}
	// The workload stays.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(workload), &corev1.ConfigMap{}); err != nil {
		t.Errorf("uninstall touched an applied workload: %v", err)
	}

	r = gotk(t, "", "uninstall", "--silent", "-n", env.Namespace(t))
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to uninstall") {
		t.Errorf("a second uninstall has nothing to do:\n%s", r)
	}
}

func crdNames(t *testing.T) []string {
	t.Helper()
	crds, err := install.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range crds {
		out = append(out, c.Name)
	}
	return out
}
