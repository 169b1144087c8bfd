// Command compatfacts writes the list of field paths, types and enum values
// of Flux's CRDs that gotk's compatibility test holds gotk's CRDs against
// (internal/crdcompat/testdata/flux-fields.tsv). `make compat-facts` runs it
// when the folder of Flux's CRDs is at hand.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/gotk-dev/gotk/internal/crdcompat"
)

const header = `Field paths of the CustomResourceDefinitions that Flux publishes, with their types,
formats and enum values: what gotk's CRDs must accept (internal/crdcompat).
Written by 'make compat-facts' from the CRD files; regenerate, never edit.
Columns: crd <file> <group> <kind> <storage version> <short names>
         field <file> <version> <path> <type> <format> <enum values>`

func main() {
	crds := flag.String("crds", "", "folder of Flux's CRD files")
	out := flag.String("out", "", "file to write")
	flag.Parse()
	if *crds == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: compatfacts -crds <folder of CRD files> -out <file>")
		os.Exit(2)
	}
	facts, err := crdcompat.FactsFromDir(*crds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compatfacts:", err)
		os.Exit(1)
	}
	var buf bytes.Buffer
	if err := crdcompat.WriteFacts(&buf, facts, header); err != nil {
		fmt.Fprintln(os.Stderr, "compatfacts:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "compatfacts:", err)
		os.Exit(1)
	}
	fields := 0
	for _, c := range facts.CRDs {
		fields += len(c.Fields[c.Storage])
	}
	fmt.Printf("compatfacts: %d CRDs, %d field paths in their storage versions -> %s\n", len(facts.CRDs), fields, *out)
}
