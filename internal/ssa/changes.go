package ssa

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// FieldChange is one field that differs between a live object and the
// result of applying the desired object to it.
type FieldChange struct {
	// Path is the field's JSON Pointer (RFC 6901), such as
	// "/spec/replicas" or "/spec/template/spec/containers/0/image".
	Path string
	// Live is the value in the cluster; nil when the field is absent.
	Live any
	// Desired is the value after the apply; nil when the apply removes the
	// field.
	Desired any
}

// maxValueLength bounds a value shown by FieldChange.String.
const maxValueLength = 40

// String says what changes, such as "/spec/replicas: 3 -> 1",
// "/metadata/labels/tier: added (web)" or "/data/debug: removed". Maps
// and lists show as {...} and [...], and long values are cut.
func (c FieldChange) String() string {
	switch {
	case c.Live == nil:
		return fmt.Sprintf("%s: added (%s)", c.Path, shortValue(c.Desired))
	case c.Desired == nil:
		return fmt.Sprintf("%s: removed", c.Path)
	}
	return fmt.Sprintf("%s: %s -> %s", c.Path, shortValue(c.Live), shortValue(c.Desired))
}

func shortValue(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "{...}"
	case []any:
		return "[...]"
	case string:
		if len(v) > maxValueLength {
			v = v[:maxValueLength] + "..."
		}
		return strconv.Quote(v)
	}
	s := fmt.Sprint(v)
	if len(s) > maxValueLength {
		s = s[:maxValueLength] + "..."
	}
	return s
}

// fieldChanges lists the fields that differ between live and desired, in
// path order. Maps are compared key by key and lists of the same length
// item by item; a list whose length changed is one change.
func fieldChanges(live, desired map[string]any) []FieldChange {
	var out []FieldChange
	compareValues("", live, desired, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func compareValues(path string, a, b any, out *[]FieldChange) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			for k, x := range av {
				p := path + "/" + escapePointer(k)
				if y, ok := bv[k]; ok {
					compareValues(p, x, y, out)
				} else {
					*out = append(*out, FieldChange{Path: p, Live: x})
				}
			}
			for k, y := range bv {
				if _, ok := av[k]; !ok {
					*out = append(*out, FieldChange{Path: path + "/" + escapePointer(k), Desired: y})
				}
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				compareValues(path+"/"+strconv.Itoa(i), av[i], bv[i], out)
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) && !sameNumber(a, b) {
		*out = append(*out, FieldChange{Path: path, Live: a, Desired: b})
	}
}

// sameNumber reports whether a and b are numbers of equal value: the JSON
// of an object may hold 1 as int64 on one side and float64 on the other.
func sameNumber(a, b any) bool {
	x, ok1 := number(a)
	y, ok2 := number(b)
	return ok1 && ok2 && x == y
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// Under reports whether the change is at prefix (a JSON Pointer such as
// "/status") or below it.
func (c FieldChange) Under(prefix string) bool {
	return c.Path == prefix || strings.HasPrefix(c.Path, prefix+"/")
}
