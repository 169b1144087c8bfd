package artifact

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gotk-dev/gotk/api/meta"
)

// OutsideLink is a symbolic link of a tree that points out of it.
type OutsideLink struct {
	// Path is the link's path in the tree, with forward slashes.
	Path string
	// Target is where it points, as written.
	Target string
}

// String shows the link as "path -> target".
func (l OutsideLink) String() string { return l.Path + " -> " + l.Target }

// RemoveOutsideLinks removes from the tree at dir every symbolic link that
// Archive would refuse, as written or once resolved, and returns them by
// path. It never follows a link whose target as written leaves the tree:
// nothing outside dir is read. Links that dangle inside the tree stay.
func RemoveOutsideLinks(dir string) ([]OutsideLink, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	var links []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			links = append(links, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for links in %s: %w", dir, err)
	}
	var out []OutsideLink
	remove := func(p, target string) error {
		rel, _ := filepath.Rel(root, p)
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing link %s: %w", filepath.ToSlash(rel), err)
		}
		out = append(out, OutsideLink{Path: filepath.ToSlash(rel), Target: target})
		return nil
	}
	// First the links that leave as written, so that no link is ever
	// resolved through one of them; then those that leave through other
	// links once resolved.
	var kept []string
	for _, p := range links {
		target, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		if !staysInside(root, realRoot, p, target) {
			if err := remove(p, target); err != nil {
				return nil, err
			}
			continue
		}
		kept = append(kept, p)
	}
	for _, p := range kept {
		rel, _ := filepath.Rel(root, p)
		if _, err := archiveLinkTarget(realRoot, root, p, filepath.ToSlash(rel)); err != nil {
			var unsafe *UnsafePathError
			if !errors.As(err, &unsafe) {
				return nil, err
			}
			target, _ := os.Readlink(p)
			if err := remove(p, target); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// staysInside reports whether the target of the link at p, taken as
// written, names a path inside the tree.
func staysInside(root, realRoot, p, target string) bool {
	var abs string
	if filepath.IsAbs(target) {
		abs = filepath.Clean(target)
		for _, r := range []string{root, realRoot} {
			if rel, err := filepath.Rel(r, abs); err == nil && (filepath.IsLocal(rel) || rel == ".") {
				return true
			}
		}
		return false
	}
	abs = filepath.Join(filepath.Dir(p), target)
	rel, err := filepath.Rel(root, abs)
	return err == nil && (filepath.IsLocal(rel) || rel == ".")
}

// OutsideLinksKey is the key of Artifact.Metadata that lists, as a JSON
// array of {"path","target"} objects, the symbolic links that were left
// out of the artifact because they point outside the source. Consumers
// read it to explain a build that misses one of them.
const OutsideLinksKey = "source.gotk.dev/outside-links"

// maxRecordedLinks bounds the links recorded in the metadata, so that a
// repository full of them cannot bloat the status.
const maxRecordedLinks = 100

// SetOutsideLinks records links in the artifact's metadata (at most the
// first 100), or removes the record when there are none.
func SetOutsideLinks(art *meta.Artifact, links []OutsideLink) {
	if len(links) == 0 {
		delete(art.Metadata, OutsideLinksKey)
		if len(art.Metadata) == 0 {
			art.Metadata = nil
		}
		return
	}
	if len(links) > maxRecordedLinks {
		links = links[:maxRecordedLinks]
	}
	type entry struct {
		Path   string `json:"path"`
		Target string `json:"target"`
	}
	es := make([]entry, len(links))
	for i, l := range links {
		es[i] = entry{Path: l.Path, Target: l.Target}
	}
	b, _ := json.Marshal(es)
	if art.Metadata == nil {
		art.Metadata = map[string]string{}
	}
	art.Metadata[OutsideLinksKey] = string(b)
}

// OutsideLinks returns the links SetOutsideLinks recorded in the artifact;
// none for nil or for an artifact without (or with an unreadable) record.
func OutsideLinks(art *meta.Artifact) []OutsideLink {
	if art == nil || art.Metadata[OutsideLinksKey] == "" {
		return nil
	}
	var es []struct {
		Path   string `json:"path"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal([]byte(art.Metadata[OutsideLinksKey]), &es); err != nil {
		return nil
	}
	out := make([]OutsideLink, 0, len(es))
	for _, e := range es {
		out = append(out, OutsideLink{Path: e.Path, Target: e.Target})
	}
	return out
}

// maxListedLinks is how many links a message names before "and N more".
const maxListedLinks = 5

// DescribeOutsideLinks says which links were left out, such as "left out
// 1 symbolic link pointing outside the repository: tools/etc -> /etc";
// empty when there are none.
func DescribeOutsideLinks(links []OutsideLink) string {
	if len(links) == 0 {
		return ""
	}
	noun := "symbolic links"
	if len(links) == 1 {
		noun = "symbolic link"
	}
	names := make([]string, 0, maxListedLinks)
	for i, l := range links {
		if i == maxListedLinks {
			names = append(names, fmt.Sprintf("and %d more", len(links)-maxListedLinks))
			break
		}
		names = append(names, l.String())
	}
	return fmt.Sprintf("left out %d %s pointing outside the repository: %s", len(links), noun, strings.Join(names, ", "))
}

// ExplainMissing returns what to add to a consumer's error message (such
// as a failed kustomize build of the artifact) when the path the message
// names is, or is below, a link the artifact left out: `; "tools/etc" is
// a symbolic link to "/etc", outside the repository, and was left out of
// the artifact`. When the message names no such link but says a file is
// missing, it lists the links left out, as a hint. It returns "" when the
// artifact left no link out.
func ExplainMissing(msg string, art *meta.Artifact) string {
	links := OutsideLinks(art)
	if len(links) == 0 {
		return ""
	}
	var named []string
	for _, l := range links {
		if mentionsPath(msg, l.Path) {
			named = append(named, fmt.Sprintf("%q is a symbolic link to %q, outside the repository, and was left out of the artifact", l.Path, l.Target))
		}
	}
	if len(named) > 0 {
		return "; " + strings.Join(named, "; ")
	}
	if strings.Contains(msg, "no such file") || strings.Contains(msg, "does not exist") || strings.Contains(msg, "not found") {
		return "; note: the source " + DescribeOutsideLinks(links)
	}
	return ""
}

// mentionsPath reports whether msg names p as a path relative to the
// source's root: at the start of a word or after leading "../"
// elements, and followed by the end of the path or a path below it.
func mentionsPath(msg, p string) bool {
	if p == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(msg[i:], p)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(p)
		before := at == 0 || strings.ContainsRune(" \"'`(=[", rune(msg[at-1])) ||
			msg[at-1] == '/' && at >= 3 && msg[at-3:at] == "../"
		after := end == len(msg) || strings.ContainsRune(" \"'`/:),]", rune(msg[end]))
		if before && after {
			return true
		}
		i = at + 1
	}
}
