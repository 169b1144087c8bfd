package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/liggitt/tabwriter"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// now is the clock that ages are computed with.
var now = time.Now

// age is how kubectl shows the time since t: "5s", "3m2s", "4h", "12d".
// An unknown time is "<unknown>".
var age = func(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(t))
}

// table writes aligned columns as kubectl does; rows written after a
// Flush keep the widths already used, so watched rows line up.
type table struct {
	w *tabwriter.Writer
}

func newTable(out io.Writer) *table { return &table{w: printers.GetNewTabWriter(out)} }

// row writes one row; cells are made single-line.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = oneLine(c)
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.w.Flush() }

// oneLine folds a multi-line message onto one line for a table cell.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r\n", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "\t", " ")
}

// validateOutput checks an -o value.
func validateOutput(output string) error {
	switch output {
	case "", "yaml", "json":
		return nil
	}
	return fmt.Errorf("unknown --output %q: use yaml or json, or leave it out for a table", output)
}

// printObjects writes objects as YAML or JSON: one object as itself,
// several (or a list asked for) as a v1 List, as kubectl does. Managed
// fields are left out, as kubectl leaves them out by default.
func printObjects(out io.Writer, output string, single bool, items []unstructured.Unstructured) error {
	var doc any
	if single && len(items) == 1 {
		u := items[0].DeepCopy()
		u.SetManagedFields(nil)
		doc = u.Object
	} else {
		list := make([]any, 0, len(items))
		for i := range items {
			u := items[i].DeepCopy()
			u.SetManagedFields(nil)
			list = append(list, u.Object)
		}
		doc = map[string]any{"apiVersion": "v1", "kind": "List", "items": list}
	}
	var data []byte
	var err error
	if output == "json" {
		data, err = json.MarshalIndent(doc, "", "    ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(doc)
	}
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	return err
}
