package release

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/kube"
	rel "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// FieldManager is the field manager Helm's actions write with: the
// name set in kube.ManagedFieldsManager, else the base name of the
// program, as Helm computes it. Drift correction writes with the same
// name, so that what it sets is Helm's to change or remove in the next
// upgrade.
func FieldManager() string {
	if kube.ManagedFieldsManager != "" {
		return kube.ManagedFieldsManager
	}
	if os.Args[0] == "" {
		return "unknown"
	}
	return filepath.Base(os.Args[0])
}

// Objects returns the objects of the release's manifest as Helm applied
// them: with the app.kubernetes.io/managed-by label and the
// meta.helm.sh/release-name and -namespace annotations, and namespaced
// objects without a namespace in the release's. mapper tells namespaced
// kinds from cluster-scoped ones; a kind it does not know keeps the
// namespace it has, or gets the release's.
func Objects(h *rel.Release, mapper apimeta.RESTMapper) ([]*unstructured.Unstructured, error) {
	if h == nil {
		return nil, nil
	}
	var out []*unstructured.Unstructured
	for _, doc := range splitDocuments(h.Manifest) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return nil, fmt.Errorf("manifest of release %s/%s.v%d: %w", h.Namespace, h.Name, h.Version, err)
		}
		if len(u.Object) == 0 || u.GetKind() == "" {
			continue
		}
		setHelmMetadata(u, h)
		if err := setNamespace(u, h.Namespace, mapper); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// splitDocuments returns the YAML documents of data in their order.
func splitDocuments(data string) []string {
	docs := releaseutil.SplitManifests(data)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	// SplitManifests names the documents manifest-0, manifest-1, ...
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = docs[k]
	}
	return out
}

func setHelmMetadata(u *unstructured.Unstructured, h *rel.Release) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ManagedByLabel] = ManagedByHelm
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[ReleaseNameAnnotation] = h.Name
	annotations[ReleaseNamespaceAnnotation] = h.Namespace
	u.SetAnnotations(annotations)
}

func setNamespace(u *unstructured.Unstructured, namespace string, mapper apimeta.RESTMapper) error {
	gvk := u.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	switch {
	case err == nil && mapping.Scope.Name() == apimeta.RESTScopeNameNamespace:
		if u.GetNamespace() == "" {
			u.SetNamespace(namespace)
		}
	case err == nil:
		u.SetNamespace("")
	case apimeta.IsNoMatchError(err):
		if u.GetNamespace() == "" {
			u.SetNamespace(namespace)
		}
	default:
		return fmt.Errorf("%s %s: %w", u.GetAPIVersion(), u.GetKind(), err)
	}
	return nil
}

// CRDObjects returns the CustomResourceDefinitions of the crds/
// directory of the release's chart, which Helm installs apart from the
// manifest.
func CRDObjects(h *rel.Release) ([]*unstructured.Unstructured, error) {
	if h == nil || h.Chart == nil {
		return nil, nil
	}
	var out []*unstructured.Unstructured
	for _, crd := range h.Chart.CRDObjects() {
		for _, doc := range splitDocuments(string(crd.File.Data)) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				return nil, fmt.Errorf("%s of chart %s: %w", crd.Filename, h.Chart.Name(), err)
			}
			if len(u.Object) == 0 || u.GetKind() == "" {
				continue
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// Excluded reports whether the object carries key set to value as a
// label or annotation, compared without regard to case.
func Excluded(u *unstructured.Unstructured, key, value string) bool {
	return ExcludedMeta(u.GetLabels(), u.GetAnnotations(), key, value)
}

// ExcludedMeta reports whether labels or annotations have key set to
// value, compared without regard to case.
func ExcludedMeta(labels, annotations map[string]string, key, value string) bool {
	for _, m := range []map[string]string{annotations, labels} {
		if v, ok := m[key]; ok && strings.EqualFold(v, value) {
			return true
		}
	}
	return false
}

// Client returns a client of the cluster the runner's actions reach, with
// the same identity (the impersonated service account, or the
// kubeconfig's user). It maps kinds with mapper, or, when nil, with the
// runner's own discovery.
func (r *Runner) Client(mapper apimeta.RESTMapper) (client.Client, error) {
	cfg, err := r.cfg.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	if mapper == nil {
		if mapper, err = r.Mapper(); err != nil {
			return nil, err
		}
	}
	return client.New(cfg, client.Options{Mapper: mapper})
}

// Mapper returns the REST mapper of the cluster the runner's actions
// reach, over discovery cached for the runner's life.
func (r *Runner) Mapper() (apimeta.RESTMapper, error) {
	return r.cfg.RESTClientGetter.ToRESTMapper()
}
