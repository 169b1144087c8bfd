package helmrelease

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	"github.com/gotk-dev/gotk/internal/runtime"
	hs "github.com/gotk-dev/gotk/internal/testenv/helmserver"
)

// crdChart is the test chart with a CRD of group in crds/, annotated with
// the chart's version.
func crdChart(version, group string) hs.Chart {
	c := appChart(version)
	c.Files = map[string]string{"crds/widgets.yaml": fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
  annotations:
    gotk.test/chart-version: "%[2]s"
spec:
  group: %[1]s
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`, group, version)}
	return c
}

// crdOf returns the CRD name, or nil; the test deletes it at the end.
func crdOf(t *testing.T, name string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, crd); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	return crd
}

func deleteCRDAtEnd(t *testing.T, name string) {
	t.Cleanup(func() {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
		_ = env.Client.Delete(context.Background(), crd)
	})
}

// The install creates the chart's CRDs (Create, the default); an upgrade
// leaves them alone (Skip, the default); with upgrade.crds CreateReplace
// the upgrade replaces them with the new chart's.
func TestCRDPolicies(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := ns + ".gotk.test"
	name := "widgets." + group
	deleteCRDAtEnd(t, name)
	chartServer(t, ns, crdChart("1.0.0", group), crdChart("1.1.0", group), crdChart("1.2.0", group))
	key := newRelease(t, ns, "web", "app", "1.0.0", nil)
	readyWith(t, key, "1.0.0")
	if crd := crdOf(t, name); crd == nil || crd.Annotations["gotk.test/chart-version"] != "1.0.0" {
		t.Fatalf("after install, CRD %s: %v", name, crd)
	}

	update(t, key, func(o *helmv2.HelmRelease) { o.Spec.Chart.Spec.Version = "1.1.0" })
	readyWith(t, key, "1.1.0")
	if v := crdOf(t, name).Annotations["gotk.test/chart-version"]; v != "1.0.0" {
		t.Errorf("upgrade with crds Skip changed the CRD to chart %s's", v)
	}

	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Chart.Spec.Version = "1.2.0"
		o.Spec.Upgrade.CRDs = helmv2.CreateReplace
	})
	readyWith(t, key, "1.2.0")
	if v := crdOf(t, name).Annotations["gotk.test/chart-version"]; v != "1.2.0" {
		t.Errorf("upgrade with crds CreateReplace left the CRD of chart %s, want 1.2.0's", v)
	}
}

// A service account that may not create CRDs fails the install with a
// message naming the CRD, and nothing is installed.
func TestCRDTheServiceAccountMayNotCreate(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := ns + ".gotk.test"
	name := "widgets." + group
	deleteCRDAtEnd(t, name)
	chartServer(t, ns, crdChart("1.0.0", group))
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"*"},
	}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployer"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: ns}}}
	for _, o := range []client.Object{sa, role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	key := newRelease(t, ns, "web", "app", "1.0.0", func(o *helmv2.HelmRelease) {
		o.Spec.ServiceAccountName = "deployer"
	})
	obj := notReadyWith(t, key, helmv2.InstallFailedReason)
	msg := runtime.Message(obj, meta.ReadyCondition)
	if !strings.Contains(msg, "CustomResourceDefinition "+name) || !strings.Contains(msg, "system:serviceaccount:"+ns+":deployer") {
		t.Errorf("message %q does not name the CRD and the service account", msg)
	}
	if crdOf(t, name) != nil {
		t.Error("the CRD was created despite the service account's rights")
	}
	if s := releaseSecrets(t, ns, "web"); len(s) != 0 {
		t.Errorf("%d release versions in storage, want none", len(s))
	}
	if configMap(t, ns, "web") != nil {
		t.Error("the release's ConfigMap was installed")
	}
}

// The templates' .Capabilities follow the cluster: a CRD created by
// someone else after an install (a Kustomization the release depends on,
// say) is in .Capabilities.APIVersions at the next upgrade, though the
// controller no longer reads discovery for each action.
func TestCapabilitiesFollowNewCRDs(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := ns + ".example.com"
	c := appChart("1.0.0")
	c.Templates["templates/widgets.yaml"] = fmt.Sprintf("{{- if .Capabilities.APIVersions.Has %q }}\n"+
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-widgets\n{{- end }}\n", group+"/v1")
	chartServer(t, ns, c)
	key := newRelease(t, ns, "web", "app", "1.0.0", nil)
	readyWith(t, key, "1.0.0")
	if configMap(t, ns, "web-widgets") != nil {
		t.Fatalf("%s/v1 is in .Capabilities.APIVersions before its CRD exists", group)
	}

	// The CRD of crdChart, applied as another tool would.
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(crdChart("1.0.0", group).Files["crds/widgets.yaml"]), &crd); err != nil {
		t.Fatal(err)
	}
	deleteCRDAtEnd(t, crd.Name)
	if err := env.Client.Create(context.Background(), &crd); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, crd.Name)
	update(t, key, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"greeting": "again"})
	})
	greetingIs(t, ns, "web", "again")
	if configMap(t, ns, "web-widgets") == nil {
		t.Errorf("the upgrade after the CRD was created did not see %s/v1 in .Capabilities.APIVersions", group)
	}
}

// waitEstablished waits until the CRD name is Established.
func waitEstablished(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if crd := crdOf(t, name); crd != nil {
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not Established", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
