package kustomize

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	kustypes "sigs.k8s.io/kustomize/api/types"
)

// Remote references, as kustomize recognises them: a URL with a scheme, a
// github.com path, or an SCP-like "user@host:path". kustomize clones the
// first kinds with git and downloads plain URLs over HTTP.
var (
	schemeRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)
	scpUserRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)
)

// isRemote reports whether kustomize would fetch ref from the network (or
// clone it with git) rather than read it from the artifact.
func isRemote(ref string) bool {
	s, _, _ := strings.Cut(strings.TrimSpace(ref), "?")
	if len(s) >= 5 && strings.EqualFold(s[:5], "git::") {
		s = s[5:]
	}
	lower := strings.ToLower(s)
	return schemeRE.MatchString(s) ||
		strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:") ||
		scpUserRE.MatchString(s)
}

// findKustomizationFile returns the name of the kustomization file in dir,
// "" when there is none, and an error when there are several.
func findKustomizationFile(c *confinedFS, dir string) (string, error) {
	var found []string
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if c.Exists(p) && !c.IsDir(p) {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%s holds several kustomization files (%s): keep one", displayDir(c.rel(dir)), strings.Join(found, ", "))
	}
}

func displayDir(rel string) string {
	if rel == "." || rel == "" {
		return "the artifact root"
	}
	return rel
}

// refChecker walks the kustomizations reachable from the one being built,
// before kustomize runs, to give clear errors for what kustomize reports
// poorly or too late: an unknown field, a resource that does not exist, a
// reference out of the artifact, and a remote reference when remote bases
// are disabled (which must be caught before kustomize starts git or an
// HTTP download).
type refChecker struct {
	fs       *confinedFS
	noRemote bool
	visited  map[string]bool
	files    []string // the local resource files seen, for diagnoseYAML
	// remote is set when a remote reference was seen (and allowed).
	remote bool
}

func (rc *refChecker) checkDir(dir string) error {
	if rc.visited[dir] {
		return nil
	}
	rc.visited[dir] = true
	name, err := findKustomizationFile(rc.fs, dir)
	if err != nil || name == "" {
		// A directory without a kustomization is kustomize's to report.
		return err
	}
	file := filepath.Join(dir, name)
	data, err := rc.fs.ReadFile(file)
	if err != nil {
		return err
	}
	var k kustypes.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return fmt.Errorf("%s: %w", rc.fs.rel(file), err)
	}
	check := func(field, entry string, mode refMode) error {
		return rc.checkEntry(file, dir, field, entry, mode)
	}
	lists := []struct {
		field   string
		entries []string
		mode    refMode
	}{
		{"resources", k.Resources, refResource},
		{"bases", k.Bases, refResource},
		{"components", k.Components, refDir},
		{"generators", k.Generators, refAny},
		{"transformers", k.Transformers, refAny},
		{"validators", k.Validators, refAny},
		{"crds", k.Crds, refFile},
		{"configurations", k.Configurations, refFile},
	}
	for _, l := range lists {
		for _, e := range l.entries {
			if err := check(l.field, e, l.mode); err != nil {
				return err
			}
		}
	}
	for _, p := range k.PatchesStrategicMerge {
		if s := string(p); !strings.ContainsAny(s, "\n:") {
			if err := check("patchesStrategicMerge", s, refFile); err != nil {
				return err
			}
		}
	}
	for _, p := range append(append([]kustypes.Patch{}, k.Patches...), k.PatchesJson6902...) {
		if p.Path != "" {
			if err := check("patches", p.Path, refFile); err != nil {
				return err
			}
		}
	}
	for _, r := range k.Replacements {
		if r.Path != "" {
			if err := check("replacements", r.Path, refFile); err != nil {
				return err
			}
		}
	}
	if p := k.OpenAPI["path"]; p != "" {
		if err := check("openapi", p, refFile); err != nil {
			return err
		}
	}
	var sources []kustypes.KvPairSources
	for _, g := range k.ConfigMapGenerator {
		sources = append(sources, g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		sources = append(sources, g.KvPairSources)
	}
	for _, s := range sources {
		files := append(append([]string{}, s.EnvSources...), s.EnvSource)
		for _, f := range s.FileSources {
			if _, path, ok := strings.Cut(f, "="); ok {
				f = path
			}
			files = append(files, f)
		}
		for _, f := range files {
			if f == "" {
				continue
			}
			if err := check("generator files", f, refFile); err != nil {
				return err
			}
		}
	}
	return nil
}

// refMode says what a kustomization field may reference.
type refMode int

const (
	refFile     refMode = iota // a file, checked for remote and confinement
	refResource                // a file or directory that must exist
	refDir                     // a directory that must exist
	refAny                     // a file or a directory, not checked for existence
)

func (rc *refChecker) checkEntry(file, dir, field, entry string, mode refMode) error {
	where := fmt.Sprintf("%s: %s entry %q", rc.fs.rel(file), field, entry)
	p := entry
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	// kustomize reads a resource as a file first, so an existing local file
	// is never fetched, whatever its name looks like.
	localFile := false
	if mode == refResource {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			localFile = true
		}
	}
	if !localFile && isRemote(entry) {
		if rc.noRemote {
			return fmt.Errorf("%s is a remote reference, and remote bases are disabled (--no-remote-bases): copy it into the source instead", where)
		}
		rc.remote = true
		return nil
	}
	real, err := rc.fs.resolve(p)
	if err != nil {
		return fmt.Errorf("%s points outside the artifact root", where)
	}
	if localFile {
		rc.files = append(rc.files, real)
	}
	exists := rc.fs.Exists(real)
	if !exists && (mode == refResource || mode == refDir) {
		return fmt.Errorf("%s: no such file or directory in the artifact", where)
	}
	if exists && mode != refFile && rc.fs.IsDir(real) {
		return rc.checkDir(real)
	}
	return nil
}

// diagnoseYAML finds the resource file whose YAML does not parse, to name
// it relative to the artifact root with its line: kustomize names it only
// relative to the kustomization that lists it. It returns nil when every
// file parses.
func (rc *refChecker) diagnoseYAML() error {
	for _, f := range rc.files {
		data, err := rc.fs.ReadFile(f)
		if err != nil {
			continue
		}
		if err := checkYAMLSyntax(data); err != nil {
			return fmt.Errorf("%s: %w", rc.fs.rel(f), err)
		}
	}
	return nil
}
