package kustomize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kustypes "sigs.k8s.io/kustomize/api/types"
)

// plainFiles returns the resource files of a generated kustomization when
// building it needs nothing of kustomize but reading them: every resource
// is a file (no nested kustomization) and no field of the spec transforms
// the objects. Then decoding the files gives what kustomize would, without
// its cost, which grows with the square of the object count.
func plainFiles(c *confinedFS, dir string, kus *kustypes.Kustomization) ([]string, bool) {
	if len(kus.Components) > 0 || len(kus.Patches) > 0 || len(kus.Images) > 0 || kus.Namespace != "" ||
		kus.NamePrefix != "" || kus.NameSuffix != "" || len(kus.Labels) > 0 || len(kus.CommonLabels) > 0 ||
		len(kus.CommonAnnotations) > 0 || len(kus.ConfigMapGenerator) > 0 || len(kus.SecretGenerator) > 0 {
		return nil, false
	}
	files := make([]string, 0, len(kus.Resources))
	for _, r := range kus.Resources {
		p := filepath.Join(dir, filepath.FromSlash(r))
		if c.IsDir(p) {
			return nil, false
		}
		files = append(files, p)
	}
	return files, true
}

// decodePlain reads the objects of files in order, refusing two objects
// with the same identity as kustomize does; its errors name the file and
// line of a broken manifest and both files of a duplicate, where
// kustomize's do not.
func decodePlain(c *confinedFS, files []string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	seen := map[string]string{}
	for _, f := range files {
		data, err := c.ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs, err = decodeFile(c, f, data, objs, seen)
		if err != nil {
			// Prefer the syntax error with its line, as a kustomize build
			// reports it.
			if yerr := checkYAMLSyntax(data); yerr != nil {
				return nil, &BuildError{msg: fmt.Sprintf("%s: %s", c.rel(f), yerr), err: err}
			}
			return nil, err
		}
	}
	return objs, nil
}

// decodeFile appends the objects of one file to objs.
func decodeFile(c *confinedFS, f string, data []byte, objs []*unstructured.Unstructured, seen map[string]string) ([]*unstructured.Unstructured, error) {
	{
		dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := dec.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.rel(f), err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			u, err := decodeDocument(doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.rel(f), err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if u.IsList() {
				items, err := u.ToList()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.rel(f), err)
				}
				for i := range items.Items {
					objs = append(objs, &items.Items[i])
				}
				continue
			}
			if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
				return nil, fmt.Errorf("%s: an object needs apiVersion, kind and metadata.name", c.rel(f))
			}
			id := u.GroupVersionKind().GroupKind().String() + "|" + u.GetNamespace() + "|" + u.GetName()
			if prev, ok := seen[id]; ok {
				return nil, fmt.Errorf("%s: %s %q is already defined in %s", c.rel(f), u.GetKind(), u.GetName(), prev)
			}
			seen[id] = c.rel(f)
			objs = append(objs, u)
		}
	}
	return objs, nil
}

// decodeDocument reads one YAML document as kustomize reads it: YAML 1.2
// (yes, on and off are strings; 0755 is a decimal number), through JSON,
// so that numbers are int64 or float64 as in any object read from JSON.
func decodeDocument(doc []byte) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if len(m) == 0 {
		return u, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}
