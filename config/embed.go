// Package config embeds the manifests that the gotk binaries carry: the
// CRDs generated from api/ (config/crd/bases) and the samples.
package config

import (
	"embed"
	"io/fs"
)

//go:embed crd/bases/*.yaml
var crds embed.FS

// CRDs returns the generated CustomResourceDefinition files, one CRD each.
func CRDs() fs.FS {
	sub, err := fs.Sub(crds, "crd/bases")
	if err != nil {
		panic(err)
	}
	return sub
}
