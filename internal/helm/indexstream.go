package helm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// errUnrecognized is a layout the chart-by-chart reader does not follow
// (flow style, several documents, tabs...): the index is loaded whole.
var errUnrecognized = errors.New("index layout not read chart by chart")

// segment is the canonical JSON of one chart's versions in a temporary
// file.
type segment struct {
	name     string
	off, len int64
}

// canonicalizer reads an index one chart at a time and writes the JSON of
// each chart's versions, as the Helm SDK would load and sort them, to a
// temporary file; the header keys (apiVersion, generated...) are kept
// aside.
type canonicalizer struct {
	segs  *os.File
	off   int64
	index []segment
	seen  map[string]bool
}

// CanonicalizeIndex converts the index file at src into its canonical form
// at dst: the JSON that encoding/json writes for the index the Helm SDK
// loads (invalid versions dropped, versions sorted newest first), and
// returns its revision, sha256:<hex of dst>. It reads one chart at a time
// from the block-style YAML that Helm and chart repositories write, and
// from JSON, so that its memory is bounded by the largest chart's entries
// rather than by the index; other layouts are loaded whole. source names
// the index in errors.
func CanonicalizeIndex(src, dst, source string) (string, error) {
	rev, err := canonicalizeStreaming(src, dst, source)
	if !errors.Is(err, errUnrecognized) {
		return rev, err
	}
	idx, err := LoadIndex(src, source)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, idx.Data, 0o644); err != nil {
		return "", err
	}
	return idx.Revision, nil
}

func canonicalizeStreaming(src, dst, source string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	segs, err := os.CreateTemp("", "helm-index-segments-")
	if err != nil {
		return "", err
	}
	defer os.Remove(segs.Name())
	defer segs.Close()
	c := &canonicalizer{segs: segs, seen: map[string]bool{}}
	r := bufio.NewReaderSize(in, 256<<10)
	first, err := firstNonSpace(r)
	if err != nil {
		return "", errUnrecognized
	}
	var header *repo.IndexFile
	if first == '{' {
		header, err = c.readJSON(r)
	} else {
		header, err = c.readYAML(r)
	}
	if err != nil {
		var invalid *InvalidIndexError
		if errors.As(err, &invalid) || errors.Is(err, errUnrecognized) {
			if invalid != nil {
				invalid.URL = source
			}
			return "", err
		}
		return "", &InvalidIndexError{URL: source, Err: err}
	}
	if header.APIVersion == "" {
		return "", &InvalidIndexError{URL: source, Err: repo.ErrNoAPIVersion}
	}
	return c.write(header, dst)
}

func firstNonSpace(r *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := r.Peek(i)
		if err != nil {
			return 0, err
		}
		switch c := b[i-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
}

// readYAML splits block-style YAML into the header keys and, below
// "entries:", one block per chart, each parsed on its own.
func (c *canonicalizer) readYAML(r *bufio.Reader) (*repo.IndexFile, error) {
	var header, chunk bytes.Buffer
	inEntries, sawEntries := false, false
	entryIndent := -1
	flush := func() error {
		if chunk.Len() == 0 {
			return nil
		}
		defer chunk.Reset()
		charts := map[string]repo.ChartVersions{}
		if err := yaml.UnmarshalStrict(chunk.Bytes(), &charts); err != nil {
			return &InvalidIndexError{Err: err}
		}
		for name, cvs := range charts {
			if err := c.add(name, cvs); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if err := c.yamlLine(line, &header, &chunk, &inEntries, &sawEntries, &entryIndent, flush); err != nil {
				return nil, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if !sawEntries {
		return nil, errUnrecognized
	}
	hdr := &repo.IndexFile{}
	if err := yaml.UnmarshalStrict(header.Bytes(), hdr); err != nil {
		return nil, &InvalidIndexError{Err: err}
	}
	return hdr, nil
}

func (c *canonicalizer) yamlLine(line string, header, chunk *bytes.Buffer, inEntries, sawEntries *bool, entryIndent *int, flush func() error) error {
	text := strings.TrimRight(line, "\r\n")
	trimmed := strings.TrimLeft(text, " ")
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	if strings.HasPrefix(trimmed, "\t") {
		return errUnrecognized
	}
	indent := len(text) - len(trimmed)
	if indent == 0 {
		if strings.HasPrefix(text, "---") || strings.HasPrefix(text, "...") || strings.HasPrefix(text, "- ") || strings.HasPrefix(text, "{") {
			return errUnrecognized
		}
		if err := flush(); err != nil {
			return err
		}
		key, rest, ok := strings.Cut(text, ":")
		if ok && strings.Trim(key, `"'`) == "entries" {
			if rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "#") {
				return errUnrecognized // flow style
			}
			if *sawEntries {
				return &InvalidIndexError{Err: errors.New(`key "entries" appears twice`)}
			}
			*inEntries, *sawEntries = true, true
			return nil
		}
		*inEntries = false
		header.WriteString(text + "\n")
		return nil
	}
	if !*inEntries {
		header.WriteString(text + "\n")
		return nil
	}
	if *entryIndent < 0 {
		if strings.HasPrefix(trimmed, "-") {
			return errUnrecognized
		}
		*entryIndent = indent
	}
	if indent < *entryIndent {
		return errUnrecognized
	}
	if indent == *entryIndent && !strings.HasPrefix(trimmed, "- ") && trimmed != "-" {
		if err := flush(); err != nil {
			return err
		}
	}
	chunk.WriteString(text[*entryIndent:] + "\n")
	return nil
}

// readJSON walks the top-level object, decoding one chart's versions at a
// time below "entries".
func (c *canonicalizer) readJSON(r io.Reader) (*repo.IndexFile, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, errUnrecognized
	}
	var header bytes.Buffer
	header.WriteString("{")
	sawEntries := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errUnrecognized
		}
		key, _ := tok.(string)
		if key != "entries" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, errUnrecognized
			}
			if header.Len() > 1 {
				header.WriteString(",")
			}
			k, _ := json.Marshal(key)
			header.Write(k)
			header.WriteString(":")
			header.Write(raw)
			continue
		}
		if sawEntries {
			return nil, errUnrecognized
		}
		sawEntries = true
		if err := expectDelim(dec, '{'); err != nil {
			return nil, errUnrecognized
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, errUnrecognized
			}
			name, _ := tok.(string)
			var cvs repo.ChartVersions
			if err := dec.Decode(&cvs); err != nil {
				return nil, errUnrecognized
			}
			if err := c.add(name, cvs); err != nil {
				return nil, err
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, errUnrecognized
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, errUnrecognized
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errUnrecognized // trailing data: not valid JSON
	}
	if !sawEntries {
		return nil, errUnrecognized
	}
	header.WriteString("}")
	hdr := &repo.IndexFile{}
	if err := json.Unmarshal(header.Bytes(), hdr); err != nil {
		return nil, errUnrecognized
	}
	return hdr, nil
}

// add drops the versions the Helm SDK would drop, sorts the rest newest
// first, and writes their JSON as a segment.
func (c *canonicalizer) add(name string, cvs repo.ChartVersions) error {
	if c.seen[name] {
		return &InvalidIndexError{Err: fmt.Errorf("chart %q appears twice in entries", name)}
	}
	c.seen[name] = true
	for idx := len(cvs) - 1; idx >= 0; idx-- {
		v := cvs[idx]
		if v == nil {
			cvs = append(cvs[:idx], cvs[idx+1:]...)
			continue
		}
		if v.Metadata == nil {
			v.Metadata = &chart.Metadata{}
		}
		if v.APIVersion == "" {
			v.APIVersion = chart.APIVersionV1
		}
		if err := v.Validate(); err != nil {
			var verr chart.ValidationError
			if !errors.As(err, &verr) || !strings.HasPrefix(verr.Error(), "validation: more than one dependency with name or alias") {
				cvs = append(cvs[:idx], cvs[idx+1:]...)
			}
		}
	}
	sort.Sort(sort.Reverse(cvs))
	key, err := json.Marshal(name)
	if err != nil {
		return err
	}
	val, err := json.Marshal(cvs)
	if err != nil {
		return err
	}
	data := append(append(key, ':'), val...)
	n, err := c.segs.Write(data)
	if err != nil {
		return err
	}
	c.index = append(c.index, segment{name: name, off: c.off, len: int64(n)})
	c.off += int64(n)
	return nil
}

// write assembles dst from the header and the segments in the order of
// their names (as encoding/json orders map keys), hashing it.
func (c *canonicalizer) write(header *repo.IndexFile, dst string) (string, error) {
	header.Entries = map[string]repo.ChartVersions{}
	hdr, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	before, after, ok := bytes.Cut(hdr, []byte(`"entries":{}`))
	if !ok {
		return "", errors.New("canonical index: no entries in the header")
	}
	sort.Slice(c.index, func(i, j int) bool { return c.index[i].name < c.index[j].name })
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	defer out.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(out, h), 256<<10)
	w.Write(before)
	w.WriteString(`"entries":{`)
	for i, s := range c.index {
		if i > 0 {
			w.WriteByte(',')
		}
		if _, err := io.Copy(w, io.NewSectionReader(c.segs, s.off, s.len)); err != nil {
			return "", err
		}
	}
	w.WriteByte('}')
	w.Write(after)
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
