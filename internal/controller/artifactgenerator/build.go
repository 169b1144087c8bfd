package artifactgenerator

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	yaml "go.yaml.in/yaml/v3"

	swv1 "github.com/gotk-dev/gotk/api/sourceextensions/v1beta1"
	"github.com/gotk-dev/gotk/internal/artifact"
)

// RuleError is a copy rule that cannot be applied: it names the artifact,
// the rule and what is wrong, so that the user finds it in the spec.
type RuleError struct {
	// Field is the rule's path in the spec, such as
	// "spec.artifacts[1].copy[0]".
	Field string
	// From and To are the rule's fields.
	From, To string
	Err      error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s (from %q to %q): %s", e.Field, e.From, e.To, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// ErrNoMatch is wrapped by the RuleError of a rule that matches no file.
var ErrNoMatch = errors.New("matches nothing")

// build fills dir, an empty directory, with the files that the copy rules
// of out take from the sources (alias -> unpacked artifact directory, read
// only). Rules run in order; a later rule overwrites (or, with Merge,
// merges into) what an earlier one wrote. Every read is confined to the
// source's directory and every write to dir, through os.Root: a path with
// "..", or a symbolic link that leads out, fails the rule.
func build(out swv1.OutputArtifact, index int, sources map[string]string, dir string, lim artifact.Limits) error {
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	for j, op := range out.Copy {
		field := fmt.Sprintf("spec.artifacts[%d].copy[%d]", index, j)
		if err := applyRule(op, sources, dst, lim); err != nil {
			return &RuleError{Field: field, From: op.From, To: op.To, Err: err}
		}
	}
	return nil
}

// parseFrom splits "@alias/pattern".
func parseFrom(from string) (alias, pattern string, err error) {
	rest, ok := strings.CutPrefix(from, "@")
	if !ok {
		return "", "", errors.New("from must start with '@alias/'")
	}
	alias, pattern, ok = strings.Cut(rest, "/")
	if !ok || alias == "" {
		return "", "", errors.New("from must be '@alias/pattern'")
	}
	return alias, pattern, nil
}

// parseTo returns the path in the artifact that "@artifact/path" names,
// "." for the root.
func parseTo(to string) (string, error) {
	p, ok := strings.CutPrefix(to, "@artifact/")
	if !ok {
		return "", errors.New("to must start with '@artifact/'")
	}
	if p == "" {
		return ".", nil
	}
	if err := localPath(p); err != nil {
		return "", fmt.Errorf("to: %w", err)
	}
	return filepath.Clean(filepath.FromSlash(p)), nil
}

// localPath refuses absolute paths and paths with a ".." element: they
// would leave the root they are relative to.
func localPath(p string) error {
	if strings.HasPrefix(p, "/") || filepath.IsAbs(p) {
		return fmt.Errorf("%q is absolute: paths are relative to the root", p)
	}
	for _, el := range strings.Split(filepath.ToSlash(p), "/") {
		if el == ".." {
			return fmt.Errorf("%q contains '..': paths must stay inside the root", p)
		}
	}
	return nil
}

// isGlob reports whether a pattern has glob characters; without any it
// names one file or directory.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

func isTarball(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz")
}

func applyRule(op swv1.CopyOperation, sources map[string]string, dst *os.Root, lim artifact.Limits) error {
	alias, pattern, err := parseFrom(op.From)
	if err != nil {
		return err
	}
	srcDir, ok := sources[alias]
	if !ok {
		return fmt.Errorf("source alias %q is not in spec.sources", alias)
	}
	if err := localPath(pattern); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if pattern != "" && !doublestar.ValidatePattern(pattern) {
		return fmt.Errorf("from: %q is not a valid glob pattern", pattern)
	}
	for _, ex := range op.Exclude {
		if !doublestar.ValidatePattern(ex) {
			return fmt.Errorf("exclude: %q is not a valid glob pattern", ex)
		}
	}
	to, err := parseTo(op.To)
	if err != nil {
		return err
	}
	toDir := strings.HasSuffix(op.To, "/")
	src, err := os.OpenRoot(srcDir)
	if err != nil {
		return err
	}
	defer src.Close()
	c := &copier{op: op, alias: alias, src: src, dst: dst, lim: lim}
	if !isGlob(pattern) {
		return c.single(filepath.Clean(filepath.FromSlash(pattern)), to, toDir)
	}
	return c.glob(pattern, to)
}

// copier applies one rule.
type copier struct {
	op    swv1.CopyOperation
	alias string
	src   *os.Root
	dst   *os.Root
	lim   artifact.Limits
}

// excluded reports whether the file at p (relative to the source root) is
// left out: an exclude pattern matches it, or one of its directories below
// base, either relative to the source root or to base (the literal part of
// the from pattern); a pattern without a slash also matches base names.
func (c *copier) excluded(p, base string) bool {
	if len(c.op.Exclude) == 0 {
		return false
	}
	p = filepath.ToSlash(p)
	base = filepath.ToSlash(base)
	var candidates []string
	for q := p; q != "." && q != "" && q != base; q = path.Dir(q) {
		candidates = append(candidates, q)
		if base != "." && strings.HasPrefix(q, base+"/") {
			candidates = append(candidates, strings.TrimPrefix(q, base+"/"))
		}
	}
	for _, ex := range c.op.Exclude {
		for _, q := range candidates {
			if doublestar.MatchUnvalidated(ex, q) {
				return true
			}
			if !strings.Contains(ex, "/") && doublestar.MatchUnvalidated(ex, path.Base(q)) {
				return true
			}
		}
	}
	return false
}

// single copies a file or directory named without globs: a directory goes
// to <to>/<its name> with all it holds (as cp -r); a file goes to <to>, or
// <to>/<its name> when to ends with '/' or is a directory already.
func (c *copier) single(p, to string, toDir bool) error {
	fi, err := c.src.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %q does not exist in source %q", ErrNoMatch, filepath.ToSlash(p), c.alias)
		}
		return describeReadErr(p, c.alias, err)
	}
	if fi.IsDir() {
		if c.op.Strategy == swv1.ExtractStrategy {
			return fmt.Errorf("strategy Extract needs a tarball (.tar.gz or .tgz), and %q is a directory", filepath.ToSlash(p))
		}
		dest := filepath.Join(to, filepath.Base(p))
		if p == "." {
			dest = to
		}
		n, err := c.tree(p, dest, p)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: directory %q of source %q holds no file that is not excluded", ErrNoMatch, filepath.ToSlash(p), c.alias)
		}
		return nil
	}
	if c.excluded(p, ".") {
		return fmt.Errorf("%w: %q is excluded by the rule's own exclude patterns", ErrNoMatch, filepath.ToSlash(p))
	}
	if c.op.Strategy == swv1.ExtractStrategy {
		if !isTarball(p) {
			return fmt.Errorf("strategy Extract needs a tarball (.tar.gz or .tgz), not %q", filepath.ToSlash(p))
		}
		return c.extract(p, to)
	}
	dest := to
	if toDir {
		dest = filepath.Join(to, filepath.Base(p))
	} else if di, err := c.dst.Stat(to); err == nil && di.IsDir() {
		dest = filepath.Join(to, filepath.Base(p))
	}
	return c.file(p, dest)
}

// glob copies every file the pattern matches: with a pattern ending in
// "/**" the files keep their path below the directory before it, as
// cp -r dir/ does; with any other pattern they keep their whole path in
// the source. With Extract, each matching tarball is unpacked into to and
// other files are passed over.
func (c *copier) glob(pattern, to string) error {
	matches, err := doublestar.Glob(c.src.FS(), pattern, doublestar.WithFilesOnly(), doublestar.WithFailOnIOErrors())
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return describeReadErr(pe.Path, c.alias, err)
		}
		return fmt.Errorf("from: %q in source %q: %w", pattern, c.alias, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("%w: no file of source %q matches %q", ErrNoMatch, c.alias, pattern)
	}
	sort.Strings(matches)
	base := literalPrefix(pattern)
	prefix, recursive := strings.CutSuffix(pattern, "/**")
	if recursive && isGlob(prefix) {
		recursive = false
	}
	copied := 0
	for _, m := range matches {
		p := filepath.FromSlash(m)
		if c.excluded(p, base) {
			continue
		}
		if c.op.Strategy == swv1.ExtractStrategy {
			if !isTarball(m) {
				continue
			}
			if err := c.extract(p, to); err != nil {
				return err
			}
			copied++
			continue
		}
		rel := m
		if r, ok := strings.CutPrefix(m, prefix+"/"); recursive && ok {
			rel = r
		}
		if err := c.file(p, filepath.Join(to, filepath.FromSlash(rel))); err != nil {
			return err
		}
		copied++
	}
	if copied == 0 {
		what := "file"
		if c.op.Strategy == swv1.ExtractStrategy {
			what = "tarball (.tar.gz or .tgz)"
		}
		return fmt.Errorf("%w: every %s of source %q that %q matches is excluded or is no %s", ErrNoMatch, what, c.alias, pattern, what)
	}
	return nil
}

// literalPrefix is the part of a pattern before its first glob element.
func literalPrefix(pattern string) string {
	var parts []string
	for _, el := range strings.Split(pattern, "/") {
		if isGlob(el) || strings.ContainsAny(el, "{") {
			break
		}
		parts = append(parts, el)
	}
	if len(parts) == 0 {
		return "."
	}
	return path.Join(parts...)
}

// tree copies the directory p with every file below it to dest and
// returns how many files it copied.
func (c *copier) tree(p, dest, base string) (int, error) {
	n := 0
	err := fs.WalkDir(c.src.FS(), filepath.ToSlash(p), func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return describeReadErr(q, c.alias, err)
		}
		rel, _ := filepath.Rel(p, filepath.FromSlash(q))
		if rel == "." {
			return nil
		}
		if c.excluded(filepath.FromSlash(q), base) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if err := c.file(filepath.FromSlash(q), filepath.Join(dest, rel)); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// file copies the file p of the source to dest in the artifact, merging
// it into what is there with the Merge strategy. A symbolic link is
// followed inside the source, never out of it, and its target's content
// copied.
func (c *copier) file(p, dest string) error {
	fi, err := c.src.Stat(p)
	if err != nil {
		return describeReadErr(p, c.alias, err)
	}
	if fi.IsDir() {
		return nil // a link to a directory: its files match on their own
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q in source %q is not a regular file", filepath.ToSlash(p), c.alias)
	}
	if dir := filepath.Dir(dest); dir != "." {
		if err := c.dst.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %q in the artifact: %w", filepath.ToSlash(dir), err)
		}
	}
	if c.op.Strategy == swv1.MergeStrategy {
		if di, err := c.dst.Stat(dest); err == nil && di.Mode().IsRegular() {
			return c.merge(p, dest)
		}
	}
	in, err := c.src.Open(p)
	if err != nil {
		return describeReadErr(p, c.alias, err)
	}
	defer in.Close()
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := c.dst.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %q in the artifact: %w", filepath.ToSlash(dest), err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %q to %q: %w", filepath.ToSlash(p), filepath.ToSlash(dest), err)
	}
	return out.Close()
}

// merge deep-merges the YAML of the source file p into the file dest of
// the artifact, as Helm merges values files: maps merge key by key, and
// any other value (lists included) of p replaces the one at dest. Each
// file may hold several documents, merged in order first. YAML 1.2 is
// read, so that keys such as "y" or "on" stay strings.
func (c *copier) merge(p, dest string) error {
	overlay, err := loadYAML(c.src, p)
	if err != nil {
		return fmt.Errorf("strategy Merge: %q of source %q: %w", filepath.ToSlash(p), c.alias, err)
	}
	base, err := loadYAML(c.dst, dest)
	if err != nil {
		return fmt.Errorf("strategy Merge: %q in the artifact: %w", filepath.ToSlash(dest), err)
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(mergeMaps(base, overlay)); err != nil {
		return fmt.Errorf("strategy Merge: %q: %w", filepath.ToSlash(dest), err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return c.dst.WriteFile(dest, []byte(buf.String()), 0o644)
}

func loadYAML(root *os.Root, p string) (map[string]any, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]any{}
	dec := yaml.NewDecoder(f)
	for doc := 1; ; doc++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		m := map[string]any{}
		if err := node.Decode(&m); err != nil {
			return nil, fmt.Errorf("document %d is not a YAML map: %w", doc, err)
		}
		out = mergeMaps(out, m)
	}
}

// mergeMaps returns base with overlay merged in: nested maps merge, other
// values of overlay replace those of base.
func mergeMaps(base, overlay map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	maps.Copy(out, base)
	for k, v := range overlay {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// extract unpacks the tarball p of the source into the directory to of
// the artifact, confined to it (artifact.Extract refuses entries that climb
// out or links that lead out).
func (c *copier) extract(p, to string) error {
	f, err := c.src.Open(p)
	if err != nil {
		return describeReadErr(p, c.alias, err)
	}
	defer f.Close()
	if err := c.dst.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("create %q in the artifact: %w", filepath.ToSlash(to), err)
	}
	// Extract writes into a fresh directory, then its files are moved
	// over what earlier rules wrote, so that a tarball merges with them.
	tmp, err := os.MkdirTemp("", "extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := artifact.Extract(f, tmp, c.lim); err != nil {
		return fmt.Errorf("strategy Extract: tarball %q of source %q: %w", filepath.ToSlash(p), c.alias, err)
	}
	tmpRoot, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer tmpRoot.Close()
	sub := &copier{op: swv1.CopyOperation{}, alias: c.alias + ":" + filepath.ToSlash(p), src: tmpRoot, dst: c.dst, lim: c.lim}
	_, err = sub.tree(".", to, ".")
	return err
}

// describeReadErr turns an os.Root error into one that says what happened:
// a link that leads out of the source is the case worth naming.
func describeReadErr(p, alias string, err error) error {
	if strings.Contains(err.Error(), "escapes from parent") || strings.Contains(err.Error(), "path escapes") {
		return fmt.Errorf("%q in source %q goes through a symbolic link that leaves the source: refused", filepath.ToSlash(p), alias)
	}
	return fmt.Errorf("read %q of source %q: %w", filepath.ToSlash(p), alias, err)
}
