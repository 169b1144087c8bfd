package release

import (
	"bytes"
	"fmt"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// CommonMetadata is a Helm post-renderer that sets labels and annotations
// on every object of the release (spec.commonMetadata), replacing values
// under the same keys.
type CommonMetadata struct {
	Labels, Annotations map[string]string
}

// Run sets the metadata on each rendered object.
func (m CommonMetadata) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	nodes, err := kio.ParseAll(rendered.String())
	if err != nil {
		return nil, fmt.Errorf("spec.commonMetadata: parse the rendered manifests: %w", err)
	}
	for _, n := range nodes {
		for _, k := range sortedKeys(m.Labels) {
			if err := n.PipeE(kyaml.SetLabel(k, m.Labels[k])); err != nil {
				return nil, fmt.Errorf("spec.commonMetadata: label %s: %w", k, err)
			}
		}
		for _, k := range sortedKeys(m.Annotations) {
			if err := n.PipeE(kyaml.SetAnnotation(k, m.Annotations[k])); err != nil {
				return nil, fmt.Errorf("spec.commonMetadata: annotation %s: %w", k, err)
			}
		}
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
