package kustomize

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
)

// namespaceCases are plain directories that exercise what kustomize does
// for a kustomization's namespace field. Each maps file names to contents.
var namespaceCases = map[string]map[string]string{
	// Namespaced core kinds, objects that already carry a namespace, a
	// Namespace object, role binding subjects, an unknown kind, several
	// documents in one file (with an empty one), a List, and values of
	// every YAML type.
	"namespaced": {
		"sa.yaml":        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: elsewhere\n",
		"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: other\n  labels: {app: app}\n  annotations: {note: kept}\ndata:\n  greeting: hello\n  number: \"1\"\n",
		"multi.yaml": "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector: {app: app}\n  ports:\n  - port: 80\n    targetPort: 8080\n---\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: default\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      serviceAccountName: app\n      containers:\n      - name: app\n        image: nginx:1.27\n        envFrom:\n        - configMapRef: {name: app}\n        - secretRef: {name: creds}\n",
		"namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {team: a}\n",
		"rbac.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  resourceNames: [app]\n  verbs: [get]\n---\n" +
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: reader\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: reader\nsubjects:\n" +
			"- kind: ServiceAccount\n  name: default\n- kind: ServiceAccount\n  name: app\n- kind: ServiceAccount\n  name: app\n  namespace: other\n- kind: ServiceAccount\n  name: ghost\n  namespace: ghosts\n- kind: User\n  name: jane\n  apiGroup: rbac.authorization.k8s.io\n- kind: Group\n  name: app\n  apiGroup: rbac.authorization.k8s.io\n",
		"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  ratio: 1.5\n  answer: yes\n  whole: 1.0\n  big: 12345678901234\n  on: true\n  off: false\n  none: null\n  quoted: \"007\"\n  list: [1, two, 3.5]\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n  namespace: preset\nspec: {}\n",
		"list.yaml":   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: creds}\n  stringData: {password: hunter2}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: tls, namespace: certs}\n",
	},
	// Cluster-scoped kinds, and the namespaced references they hold.
	"cluster": {
		"sa.yaml":   "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: other\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n",
		"role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n",
		"binding.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: reader\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: reader\nsubjects:\n" +
			"- kind: ServiceAccount\n  name: default\n- kind: ServiceAccount\n  name: default\n  namespace: kube-system\n- kind: ServiceAccount\n  name: app\n  namespace: other\n- kind: ServiceAccount\n  name: ghost\n  namespace: ghosts\n- kind: ServiceAccount\n  name: nobody\n",
		"webhook.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: webhook\n  namespace: system\nspec:\n  ports:\n  - port: 443\n---\n" +
			"apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: validate\nwebhooks:\n- name: v.example.com\n  clientConfig:\n    service: {name: webhook, namespace: system, path: /validate}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n" +
			"- name: v2.example.com\n  clientConfig:\n    service: {name: absent, namespace: system}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n---\n" +
			"apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: mutate\nwebhooks:\n- name: m.example.com\n  clientConfig:\n    service: {name: webhook, namespace: system, path: /mutate}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n",
		"crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n" +
			"  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object}\n  conversion:\n    strategy: Webhook\n    webhook:\n      conversionReviewVersions: [v1]\n      clientConfig:\n        service: {name: webhook, namespace: system, path: /convert}\n",
		"apiservice.yaml": "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.metrics.example.com\nspec:\n  group: metrics.example.com\n  version: v1\n  groupPriorityMinimum: 100\n  versionPriority: 100\n  service: {name: api, namespace: system}\n",
		"node.yaml":       "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\nspec:\n  configSource:\n    configMap: {name: kubelet, namespace: kube-system, kubeletConfigKey: kubelet}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubelet\n  namespace: kube-system\n",
		"other.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: system\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: example.com/disk\n",
	},
	// Two ConfigMaps that become one object in the target namespace.
	"collision": {
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: a\n",
		"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: b\n",
	},
	// Two Namespace objects, both renamed to the target namespace.
	"namespaces": {
		"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
	},
	// An object that kustomize drops (local configuration) and one whose
	// name it suffixes with a hash: left to kustomize.
	"reserved": {
		"local.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n",
		"hash.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hashed\n  annotations:\n    kustomize.config.k8s.io/needs-hash: \"true\"\ndata: {a: b}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n    envFrom:\n    - configMapRef: {name: hashed}\n",
	},
}

// krustyBuild builds spec.Path of root the way Build does when the plain
// path does not apply: generated kustomization, spec laid over it,
// kustomize run.
func krustyBuild(t *testing.T, root string, spec *kustomizev1.KustomizationSpec) ([]*unstructured.Unstructured, error) {
	t.Helper()
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	c := newConfinedFS(real, false)
	dir := filepath.Join(real, filepath.FromSlash(spec.Path))
	kus, err := generateKustomization(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := applySpec(c, dir, kus, spec); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(kus)
	if err != nil {
		t.Fatal(err)
	}
	c.override(filepath.Join(dir, "kustomization.yaml"), data)
	m, err := runKustomize(c, dir)
	if err != nil {
		return nil, cleanError(err, real)
	}
	return toUnstructured(m.Resources())
}

// orderedDumps is objectDumps without the sorting.
func orderedDumps(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		data, _ := o.MarshalJSON()
		out = append(out, string(data))
	}
	return out
}

// With spec.targetNamespace, a plain directory built without kustomize
// gives exactly what kustomize gives: the same objects in the same order,
// or the same error. The plain path must be taken where it can be.
func TestPlainNamespaceMatchesKustomize(t *testing.T) {
	wantFast := map[string]bool{"namespaced": true, "cluster": true}
	for name, files := range namespaceCases {
		root := t.TempDir()
		dir := filepath.Join(root, "app")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, data := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, ns := range []string{"tenant-1", "default", "other", "system", "a"} {
			t.Run(name+"/"+ns, func(t *testing.T) {
				spec := &kustomizev1.KustomizationSpec{Path: "app", TargetNamespace: ns}
				want, wantErr := krustyBuild(t, root, spec)
				got, gotErr := Build(context.Background(), root, spec, BuildOptions{NoRemoteBases: true})
				if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
					t.Fatalf("error = %v\nkustomize's = %v", gotErr, wantErr)
				}
				if diff := cmp.Diff(orderedDumps(want), orderedDumps(got)); diff != "" {
					t.Errorf("build differs from kustomize (-kustomize +plain):\n%s", diff)
				}

				// Whether the plain path itself built it.
				real, _ := filepath.EvalSymlinks(root)
				c := newConfinedFS(real, false)
				kus, err := generateKustomization(context.Background(), c, filepath.Join(real, "app"))
				if err != nil {
					t.Fatal(err)
				}
				paths, ok := plainFiles(c, filepath.Join(real, "app"), kus)
				if !ok {
					t.Fatal("not a plain directory")
				}
				fast, ok := buildPlain(c, paths, ns)
				if ok != (wantFast[name] && wantErr == nil) {
					t.Fatalf("plain path taken: %v (kustomize's error: %v)", ok, wantErr)
				}
				if ok {
					if diff := cmp.Diff(orderedDumps(want), orderedDumps(fast)); diff != "" {
						t.Errorf("plain path differs from kustomize (-kustomize +plain):\n%s", diff)
					}
				}
			})
		}
	}
}
