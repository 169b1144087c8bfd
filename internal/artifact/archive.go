package artifact

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Filter decides, for a path relative to the archived directory (with
// forward slashes) and whether it is a directory, that the path is left out
// of the archive. An excluded directory is left out with all it holds. A nil
// Filter keeps everything.
type Filter func(rel string, isDir bool) (exclude bool)

// epoch is the modification time of every archive entry, so that the bytes
// of an archive depend on the content of the tree alone.
var epoch = time.Unix(0, 0).UTC()

// Archive writes a gzip-compressed tar of dir to dst. The same tree always
// gives the same bytes: entries come in lexical order, with the epoch as
// modification time, owner 0:0 without names, and modes reduced to 0755 for
// directories and executables and 0644 for other files. Only directories,
// regular files and symbolic links are stored; devices, FIFOs and sockets
// are left out. A symbolic link is stored, as a clean relative link, only
// when it stays inside dir; otherwise Archive fails naming it.
func Archive(dir string, dst io.Writer, filter Filter) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("archive %s: not a directory", dir)
	}
	// The tree is compared to its resolved self so that a root reached
	// through a symbolic link (such as /tmp on some systems) still counts
	// as inside.
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}

	bw := bufio.NewWriterSize(dst, 64<<10)
	gw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	// gzip.Writer leaves the header's name empty and writes a zero mtime
	// unless told otherwise, which keeps the header free of local facts.
	tw := tar.NewWriter(gw)
	// One copy buffer for every file: io.Copy would allocate one per file
	// (tar.Writer has no ReadFrom), which on a large tree is as many bytes
	// of garbage as the tree holds.
	buf := make([]byte, 64<<10)

	walkErr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if filter != nil && filter(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		hdr := &tar.Header{
			Name:    rel,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		switch mode := d.Type(); {
		case mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			hdr.Mode = 0o755
		case mode&fs.ModeSymlink != 0:
			target, err := archiveLinkTarget(realRoot, root, p, rel)
			if err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = target
			hdr.Mode = 0o777
		case mode.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeReg
			hdr.Size = info.Size()
			hdr.Mode = 0o644
			if info.Mode().Perm()&0o111 != 0 {
				hdr.Mode = 0o755
			}
		default:
			return nil // devices, FIFOs, sockets: nothing to ship
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		return copyFile(tw, p, rel, hdr.Size, buf)
	})
	if walkErr != nil {
		return fmt.Errorf("archive %s: %w", dir, walkErr)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := gw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	return bw.Flush()
}

// copyFile copies exactly size bytes of the file at p into tw; a file that
// changed size while being archived is an error rather than a corrupt
// entry.
func copyFile(tw io.Writer, p, rel string, size int64, buf []byte) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(tw, io.LimitReader(f, size), buf)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if n != size {
		return fmt.Errorf("%s: file changed size while being archived", rel)
	}
	return nil
}

// archiveLinkTarget returns the target under which the symbolic link at p
// (rel inside the tree) is stored: its target made relative and clean, after
// checking that it stays inside the tree both as written and, when it
// exists, once every link on the way is resolved.
func archiveLinkTarget(realRoot, root, p, rel string) (string, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	var abs string
	if filepath.IsAbs(target) {
		abs = filepath.Clean(target)
		// An absolute link into the tree is kept, as a relative one.
		if r, err := filepath.Rel(root, abs); err == nil && filepath.IsLocal(r) {
			abs = filepath.Join(root, r)
		} else if r, err := filepath.Rel(realRoot, abs); err == nil && filepath.IsLocal(r) {
			abs = filepath.Join(root, r)
		} else {
			return "", &UnsafePathError{Entry: rel, Reason: fmt.Sprintf("symbolic link to %q leaves the directory", target)}
		}
	} else {
		abs = filepath.Join(filepath.Dir(p), target)
	}
	inTree, err := filepath.Rel(root, abs)
	if err != nil || !filepath.IsLocal(inTree) && inTree != "." {
		return "", &UnsafePathError{Entry: rel, Reason: fmt.Sprintf("symbolic link to %q leaves the directory", target)}
	}
	if resolved, err := filepath.EvalSymlinks(p); err == nil {
		r, err := filepath.Rel(realRoot, resolved)
		if err != nil || !filepath.IsLocal(r) && r != "." {
			return "", &UnsafePathError{Entry: rel, Reason: fmt.Sprintf("symbolic link to %q resolves outside the directory", target)}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", &UnsafePathError{Entry: rel, Reason: fmt.Sprintf("symbolic link to %q cannot be resolved: %v", target, err)}
	}
	// A dangling link that stays inside as written is kept: it is harmless.
	out, err := filepath.Rel(filepath.Dir(p), abs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(out), nil
}

// Flux's default exclusions, grouped as its documentation lists them. VCS
// files are always left out; the rest applies only to a tree that gives no
// ignore pattern of its own.
const (
	ignoreVCS   = ".git/,.gitignore,.gitmodules,.gitattributes"
	ignoreExt   = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
	ignoreCI    = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml"
	ignoreExtra = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"
)

// SourceIgnoreFile is the name of the ignore files read from a source tree,
// in any directory; their patterns apply below the directory holding them.
const SourceIgnoreFile = ".sourceignore"

// DefaultIgnorePatterns returns the default exclusions, one pattern per
// element.
func DefaultIgnorePatterns() []string {
	return strings.Split(strings.Join([]string{ignoreExt, ignoreCI, ignoreExtra}, ","), ",")
}

// IgnoreFilter builds the Filter of a source tree at dir, in the gitignore
// format, as Flux's source-controller does. Patterns apply in this order,
// a later match winning over an earlier one (so a "!pattern" can
// re-include):
//
//  1. the VCS files (.git/, .gitignore, .gitmodules, .gitattributes), always;
//  2. every .sourceignore file in the tree, scoped to its directory;
//  3. spec (spec.ignore of the object), when set, from the tree's root.
//
// When steps 2 and 3 give no pattern at all (no .sourceignore file, or
// only blank lines and comments, and spec unset or just as empty), Flux's
// default exclusions (DefaultIgnorePatterns) apply instead.
func IgnoreFilter(dir string, spec *string) (Filter, error) {
	var vcs []gitignore.Pattern
	for _, p := range strings.Split(ignoreVCS, ",") {
		vcs = append(vcs, gitignore.ParsePattern(p, nil))
	}
	vcsMatcher := gitignore.NewMatcher(vcs)
	var ps []gitignore.Pattern
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		var domain []string
		if rel != "." {
			domain = strings.Split(filepath.ToSlash(rel), "/")
		}
		if d.IsDir() {
			if rel != "." && vcsMatcher.Match(domain, true) {
				return filepath.SkipDir // never look inside .git
			}
			return nil
		}
		if d.Name() != SourceIgnoreFile || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ps = append(ps, parseIgnore(string(data), domain[:len(domain)-1])...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s files of %s: %w", SourceIgnoreFile, dir, err)
	}
	if spec != nil {
		ps = append(ps, parseIgnore(*spec, nil)...)
	}
	if len(ps) == 0 {
		for _, p := range DefaultIgnorePatterns() {
			ps = append(ps, gitignore.ParsePattern(p, nil))
		}
	}
	m := gitignore.NewMatcher(append(vcs, ps...))
	return func(rel string, isDir bool) bool {
		return m.Match(strings.Split(rel, "/"), isDir)
	}, nil
}

// parseIgnore reads gitignore lines, skipping blank lines and comments.
func parseIgnore(text string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

// cleanLinkTarget checks the target of a symbolic link named name (a clean,
// local path with forward slashes) and returns its clean form. Only a
// relative target whose leading ".." elements climb no higher than the
// link's own directory is accepted; after cleaning, ".." can only lead, so
// following the link from its real directory can never leave the tree.
func cleanLinkTarget(name, target string) (string, error) {
	if target == "" {
		return "", errors.New("empty target")
	}
	if path.IsAbs(target) || filepath.IsAbs(target) {
		return "", fmt.Errorf("absolute target %q", target)
	}
	clean := path.Clean(target)
	depth := strings.Count(name, "/") // directories above the link
	up := 0
	for el := range strings.SplitSeq(clean, "/") {
		if el != ".." {
			break
		}
		up++
	}
	if up > depth {
		return "", fmt.Errorf("target %q leaves the directory", target)
	}
	return clean, nil
}
