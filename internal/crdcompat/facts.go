package crdcompat

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Facts are what the compatibility test needs to know of Flux's CRDs, and
// nothing more: for each CRD its names and storage version, and for each
// version every field path with its type, format and enum values. They are
// kept in the repository (testdata/flux-fields.tsv) so that the test needs
// nothing outside it; WriteFacts makes them from the CRD files.
type Facts struct {
	CRDs []CRDFacts
}

// CRDFacts is one CRD.
type CRDFacts struct {
	// File is the base name of the CRD file, such as
	// "source.toolkit.fluxcd.io_gitrepositories.yaml"; gotk's CRD for the
	// same kind has the same file name in config/crd/bases.
	File       string
	Group      string
	Kind       string
	Storage    string
	ShortNames []string
	// Fields maps each version to its field paths.
	Fields map[string]map[string]Field
}

// FactsFromDir reads every CRD file of dir.
func FactsFromDir(dir string) (*Facts, error) {
	names, err := Files(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no CRD files (*.yaml) in %s", dir)
	}
	facts := &Facts{}
	for _, name := range names {
		crd, err := Load(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		c := CRDFacts{
			File:       name,
			Group:      crd.Spec.Group,
			Kind:       crd.Spec.Names.Kind,
			Storage:    StorageVersion(crd),
			ShortNames: crd.Spec.Names.ShortNames,
			Fields:     map[string]map[string]Field{},
		}
		for _, v := range crd.Spec.Versions {
			fields, err := Fields(crd, v.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			c.Fields[v.Name] = fields
		}
		facts.CRDs = append(facts.CRDs, c)
	}
	return facts, nil
}

// The list is tab-separated, one record a line:
//
//	crd    <file> <group> <kind> <storage version> <short names, comma-separated>
//	field  <file> <version> <path> <type> <format> <enum values, |-separated>
//
// Lines that start with # are comments.
const (
	crdRecord   = "crd"
	fieldRecord = "field"
)

// WriteFacts writes facts in a stable order, so that the file changes only
// when the CRDs do.
func WriteFacts(w io.Writer, f *Facts, header string) error {
	bw := bufio.NewWriter(w)
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		fmt.Fprintf(bw, "# %s\n", line)
	}
	for _, c := range f.CRDs {
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%s\t%s\n", crdRecord, c.File, c.Group, c.Kind, c.Storage, strings.Join(c.ShortNames, ","))
		versions := make([]string, 0, len(c.Fields))
		for v := range c.Fields {
			versions = append(versions, v)
		}
		sort.Strings(versions)
		for _, v := range versions {
			fields := c.Fields[v]
			paths := make([]string, 0, len(fields))
			for p := range fields {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			for _, p := range paths {
				fl := fields[p]
				fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fieldRecord, c.File, v, p, fl.Type, fl.Format, strings.Join(fl.Enum, "|"))
			}
		}
	}
	return bw.Flush()
}

// ReadFacts parses what WriteFacts wrote; an error names the line.
func ReadFacts(r io.Reader) (*Facts, error) {
	facts := &Facts{}
	index := map[string]int{} // file -> position in facts.CRDs
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		switch {
		case cols[0] == crdRecord && len(cols) == 6:
			if _, ok := index[cols[1]]; ok {
				return nil, fmt.Errorf("line %d: CRD %s listed twice", line, cols[1])
			}
			index[cols[1]] = len(facts.CRDs)
			facts.CRDs = append(facts.CRDs, CRDFacts{
				File: cols[1], Group: cols[2], Kind: cols[3], Storage: cols[4],
				ShortNames: splitNonEmpty(cols[5], ","),
				Fields:     map[string]map[string]Field{},
			})
		case cols[0] == fieldRecord && len(cols) == 7:
			i, ok := index[cols[1]]
			if !ok {
				return nil, fmt.Errorf("line %d: field of %s before its crd line", line, cols[1])
			}
			c := &facts.CRDs[i]
			if c.Fields[cols[2]] == nil {
				c.Fields[cols[2]] = map[string]Field{}
			}
			c.Fields[cols[2]][cols[3]] = Field{Type: cols[4], Format: cols[5], Enum: splitNonEmpty(cols[6], "|")}
		default:
			return nil, fmt.Errorf("line %d: want a crd line of 6 columns or a field line of 7, got %q", line, text)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return facts, nil
}

func splitNonEmpty(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}
