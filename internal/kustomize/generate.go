package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
	kustypes "sigs.k8s.io/kustomize/api/types"
)

// generateKustomization makes the kustomization of a directory that has
// none, as Flux does: every .yaml and .yml file under dir, recursively, is
// a resource, except that a subdirectory holding its own kustomization file
// is listed as a whole and not descended into. As in Flux, a file with a
// document that is not a Kubernetes object (no apiVersion and kind, such
// as CI configuration or Helm values) fails the build, naming the file
// and the document: skipping it would drop its objects from the build, and
// then prune them. Empty documents, or documents of comments only, are
// fine; keep other YAML out of the artifact with .sourceignore.
func generateKustomization(ctx context.Context, c *confinedFS, dir string) (*kustypes.Kustomization, error) {
	k := &kustypes.Kustomization{TypeMeta: kustypes.TypeMeta{
		APIVersion: kustypes.KustomizationVersion,
		Kind:       kustypes.KustomizationKind,
	}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name, err := findKustomizationFile(c, p)
			if err != nil {
				return err
			}
			if name != "" {
				k.Resources = append(k.Resources, rel)
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		real, err := c.resolve(p)
		if err != nil {
			return err
		}
		info, err := os.Stat(real)
		if err != nil {
			return err
		}
		if info.IsDir() {
			// A symlink to a directory: Flux does not follow it either.
			return nil
		}
		data, err := os.ReadFile(real)
		if err != nil {
			return err
		}
		ok, err := holdsObjects(data)
		if err != nil {
			return fmt.Errorf("%s: %w", c.rel(p), err)
		}
		if ok {
			k.Resources = append(k.Resources, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// holdsObjects reports whether the YAML stream data holds Kubernetes
// objects (true) or only empty documents (false). A syntax error names
// the line; a document that is not an object, or looks like half of one,
// is named by its number in the file and its line.
func holdsObjects(data []byte) (bool, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	objects := 0
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("invalid YAML: %w", fixLine(data, err))
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue // an empty document
		}
		apiVersion, kind := false, false
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "apiVersion":
					apiVersion = true
				case "kind":
					kind = true
				}
			}
		}
		switch {
		case apiVersion && kind:
			objects++
		case apiVersion || kind:
			missing := "kind"
			if kind {
				missing = "apiVersion"
			}
			return false, fmt.Errorf("document %d (line %d): the object has no %s", i, n.Line, missing)
		default:
			return false, fmt.Errorf("document %d (line %d) is not a Kubernetes object: it has neither apiVersion nor kind (keep files that are not manifests out of the artifact with .sourceignore)", i, n.Line)
		}
	}
	return objects > 0, nil
}

// checkYAMLSyntax returns the first syntax error of the YAML stream data.
func checkYAMLSyntax(data []byte) error {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid YAML: %w", fixLine(data, err))
		}
	}
}

// yamlLine splits a YAML syntax error message, "yaml: line N: what".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// fixLine corrects the line of a yaml.v3 syntax error. yaml.v3 numbers the
// lines of parser errors (an unclosed flow sequence, for one) from 0 and
// those of scanner errors from 1; yaml.v2 parses the same grammar and
// numbers both from 1. When v2 fails on data with the same message one
// line further down, its line is the right one; any other disagreement
// (v3 points at where a quoted scalar starts, v2 at the end of the file)
// keeps v3's.
func fixLine(data []byte, err error) error {
	m3 := yamlLine.FindStringSubmatch(err.Error())
	if m3 == nil {
		return err
	}
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	var err2 error
	for err2 == nil {
		var doc any
		err2 = dec.Decode(&doc)
	}
	m2 := yamlLine.FindStringSubmatch(err2.Error())
	if m2 == nil || m2[2] != m3[2] {
		return err
	}
	n3, _ := strconv.Atoi(m3[1])
	n2, _ := strconv.Atoi(m2[1])
	if n2 != n3+1 {
		return err
	}
	return errors.New(err2.Error())
}
