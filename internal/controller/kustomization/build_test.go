package kustomization

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
)

// Post-build substitution through the controller: variables from a
// ConfigMap, a Secret and the inline map (which wins), a missing optional
// source, defaults, $$ escapes, the per-object opt-out, and a new value in
// the ConfigMap reaching the cluster on the next reconcile.
func TestSubstitution(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	vars := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: ns}, Data: map[string]string{"region": "eu", "tier": "gold"}}
	create(t, vars, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-vars", Namespace: ns}, StringData: map[string]string{"password": "from-the-secret"}})
	r := newRepo(t, ns, map[string]string{
		"deploy/subst.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: subst
  namespace: ` + ns + `
data:
  region: ${region}
  tier: ${tier}
  owner: ${owner}
  password: ${password}
  size: ${size:=small}
  literal: $${region}
`,
		"deploy/raw.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  namespace: ` + ns + `
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  value: ${region}
`,
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.PostBuild = &kustomizev1.PostBuild{
			Substitute: map[string]string{"owner": "team-a", "tier": "platinum"},
			SubstituteFrom: []kustomizev1.SubstituteReference{
				{Kind: "ConfigMap", Name: "vars"},
				{Kind: "Secret", Name: "secret-vars"},
				{Kind: "ConfigMap", Name: "not-there", Optional: true},
			},
		}
	})
	appliedAt(t, key, r.head())
	want := map[string]string{"region": "eu", "tier": "platinum", "owner": "team-a", "password": "from-the-secret", "size": "small", "literal": "${region}"}
	cm, err := getCM(t, ns, "subst")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("subst %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	if v, _ := cmValue(t, ns, "raw", "value"); v != "${region}" {
		t.Errorf("raw was substituted: %q", v)
	}

	// Same revision, new variable value: the build is not reused.
	vars.Data["region"] = "us"
	if err := env.Client.Update(context.Background(), vars); err != nil {
		t.Fatal(err)
	}
	requestReconcile(t, key)
	eventually(t, "region us", func() bool { v, _ := cmValue(t, ns, "subst", "region"); return v == "us" })
}

// A ConfigMap or Secret of substituteFrom that carries the watch label
// reconciles the Kustomization as soon as its data changes, without a
// request and long before the interval (an hour here); labelling one
// later has the same effect.
func TestWatchedSubstituteFrom(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	watched := map[string]string{meta.WatchLabel: meta.WatchLabelEnabled}
	vars := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: ns, Labels: watched}, Data: map[string]string{"region": "eu"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-vars", Namespace: ns}, Data: map[string][]byte{"tier": []byte("gold")}}
	create(t, vars, secret)
	r := newRepo(t, ns, map[string]string{
		"deploy/subst.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: subst\n  namespace: " + ns + "\ndata:\n  region: ${region}\n  tier: ${tier}\n",
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{
			{Kind: "ConfigMap", Name: "vars"}, {Kind: "Secret", Name: "secret-vars"},
		}}
	})
	appliedAt(t, key, r.head())
	if v, _ := cmValue(t, ns, "subst", "region"); v != "eu" {
		t.Fatalf("region = %q", v)
	}

	vars.Data["region"] = "us"
	if err := env.Client.Update(context.Background(), vars); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watched ConfigMap's new value applied", func() bool { v, _ := cmValue(t, ns, "subst", "region"); return v == "us" })

	secret.Labels = watched
	secret.Data["tier"] = []byte("platinum")
	if err := env.Client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the newly labelled Secret's value applied", func() bool { v, _ := cmValue(t, ns, "subst", "tier"); return v == "platinum" })
}

// targetNamespace, namePrefix, commonMetadata, patches (strategic merge
// and JSON 6902) and images, through the controller.
func TestBuildTransforms(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	target := env.Namespace(t)
	r := newRepo(t, ns, map[string]string{
		"deploy/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`,
		"deploy/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
	})
	key := newKustomization(t, ns, "app", "./deploy", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = target
		k.Spec.NamePrefix = "pre-"
		k.Spec.CommonMetadata = &meta.CommonMetadata{Labels: map[string]string{"team": "a"}}
		k.Spec.Images = []meta.Image{{Name: "nginx", NewTag: "1.28"}}
		k.Spec.Patches = []meta.Patch{
			{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n"},
			{Patch: "- op: add\n  path: /data/b\n  value: \"2\"\n", Target: &meta.Selector{Kind: "ConfigMap", Name: "settings"}},
		}
	})
	ks := appliedAt(t, key, r.head())

	d := &appsv1.Deployment{}
	if err := env.Client.Get(context.Background(), clientKey(target, "pre-web"), d); err != nil {
		t.Fatalf("Deployment pre-web in the target namespace: %v (inventory %+v)", err, ks.Status.Inventory)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" {
		t.Errorf("image %s, want nginx:1.28", img)
	}
	if d.Labels["team"] != "a" || d.Labels[kustomizev1.NameLabel] != "app" {
		t.Errorf("labels %v", d.Labels)
	}
	cm, err := getCM(t, target, "pre-settings")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["a"] != "1" || cm.Data["b"] != "2" {
		t.Errorf("settings data %v", cm.Data)
	}
	if _, err := getCM(t, ns, "settings"); err == nil {
		t.Error("an object landed in the Kustomization's namespace instead of the target")
	}
}
