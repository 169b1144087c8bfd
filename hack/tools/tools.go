//go:build tools

// Package tools pins the code generators that `make generate` runs, in a
// module of their own so that their dependencies stay out of gotk's.
package tools

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
