package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/git"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// reconcileInclude collects the artifacts of the repositories that
// spec.include names. It runs before the checkout, so that a change of an
// included artifact alone is enough to rebuild.
func (r *Reconciler) reconcileInclude(ctx context.Context, s *scope) error {
	obj := s.obj
	s.included = nil
	if len(obj.Spec.Include) > 0 {
		if err := r.checkIncludeCycle(ctx, obj); err != nil {
			return err
		}
	}
	for i, inc := range obj.Spec.Include {
		dep := &sourcev1.GitRepository{}
		key := client.ObjectKey{Namespace: obj.Namespace, Name: inc.GitRepositoryRef.Name}
		err := r.Get(ctx, key, dep)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err != nil || dep.Status.Artifact == nil {
			msg := fmt.Errorf("spec.include[%d]: GitRepository '%s' has no artifact yet", i, key)
			if err != nil {
				msg = fmt.Errorf("spec.include[%d]: GitRepository '%s' not found", i, key)
			}
			runtime.MarkTrue(obj, meta.IncludeUnavailableCondition, "IncludeUnavailable", "%s", msg)
			return runtime.Waiting("IncludeUnavailable", r.DependencyRequeue, msg)
		}
		s.included = append(s.included, dep.Status.Artifact.DeepCopy())
	}
	runtime.Delete(obj, meta.IncludeUnavailableCondition)
	return nil
}

// maxIncludeGraph bounds the GitRepositories visited when looking for an
// include cycle.
const maxIncludeGraph = 64

// checkIncludeCycle refuses an include graph that leads back to obj: each
// new artifact would trigger the next one and nest a copy of itself, for
// ever. It follows spec.include through the namespace breadth first.
func (r *Reconciler) checkIncludeCycle(ctx context.Context, obj *sourcev1.GitRepository) error {
	type node struct {
		name string
		path []string
	}
	queue := []node{{name: obj.Name, path: []string{obj.Name}}}
	seen := map[string]bool{}
	for len(queue) > 0 && len(seen) < maxIncludeGraph {
		n := queue[0]
		queue = queue[1:]
		if seen[n.name] {
			continue
		}
		seen[n.name] = true
		incs := obj.Spec.Include
		if n.name != obj.Name {
			dep := &sourcev1.GitRepository{}
			err := r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: n.name}, dep)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			incs = dep.Spec.Include
		}
		for _, inc := range incs {
			next := inc.GitRepositoryRef.Name
			path := append(append([]string(nil), n.path...), next)
			if next == obj.Name {
				msg := fmt.Errorf("spec.include forms a cycle: %s", strings.Join(path, " -> "))
				runtime.MarkTrue(obj, meta.IncludeUnavailableCondition, meta.InvalidSpecReason, "%s", msg)
				return runtime.Stalling(meta.InvalidSpecReason, msg)
			}
			queue = append(queue, node{name: next, path: path})
		}
	}
	return nil
}

// copyIncludes unpacks each included artifact's fromPath at toPath in the
// checkout, confined to it. It never replaces what is there: a toPath that
// is the root, already exists (as the repository's own or an earlier
// include's), or goes through a symbolic link is refused, naming it; an
// empty directory there is taken over.
func (r *Reconciler) copyIncludes(s *scope) error {
	placed := map[string]int{} // toPath (cleaned) -> index of the include
	for i, inc := range s.obj.Spec.Include {
		art := s.included[i]
		to, err := confine(s.dir, inc.GetToPath())
		if err != nil {
			return runtime.Stallingf(sourcev1.InvalidPathReason, "spec.include[%d].toPath: %s", i, err)
		}
		if to == s.dir {
			return runtime.Stallingf(sourcev1.InvalidPathReason,
				"spec.include[%d].toPath %q is the repository root: the included files would replace the repository's own; name a directory inside it",
				i, inc.GetToPath())
		}
		rel, _ := filepath.Rel(s.dir, to)
		rel = filepath.ToSlash(rel)
		if err := freePath(s.dir, rel, placed); err != nil {
			return runtime.Failed(sourcev1.InvalidPathReason, fmt.Errorf("spec.include[%d].toPath %q: %w", i, inc.GetToPath(), err))
		}
		tmp, err := os.MkdirTemp("", "include-")
		if err != nil {
			return runtime.Failed(sourcev1.DirCreationFailedReason, err)
		}
		defer os.RemoveAll(tmp)
		f, err := r.Storage.Open(*art)
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("open included artifact %s: %w", art.Path, err))
		}
		_, err = artifact.Extract(f, tmp, r.limits())
		f.Close()
		if err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("unpack included artifact %s: %w", art.Path, err))
		}
		from, err := confine(tmp, inc.GetFromPath())
		if err != nil {
			return runtime.Stallingf(sourcev1.InvalidPathReason, "spec.include[%d].fromPath: %s", i, err)
		}
		if _, err := os.Stat(from); err != nil {
			return runtime.Stallingf(sourcev1.InvalidPathReason, "spec.include[%d].fromPath %q does not exist in %s",
				i, inc.GetFromPath(), inc.GitRepositoryRef.Name)
		}
		// Only an empty directory can be in the way now; os.Remove
		// leaves anything else alone.
		if err := os.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return runtime.Failed(sourcev1.InvalidPathReason, fmt.Errorf("spec.include[%d].toPath %q: %w", i, inc.GetToPath(), err))
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return runtime.Failed(sourcev1.InvalidPathReason, fmt.Errorf("spec.include[%d].toPath %q: %w", i, inc.GetToPath(), err))
		}
		if err := os.Rename(from, to); err != nil {
			return runtime.Failed(meta.StorageOperationFailedReason, err)
		}
		placed[rel] = i
	}
	return nil
}

// freePath checks that rel (a clean slash path below root) can take an
// include: every existing element on the way is a real directory, not a
// symbolic link or a file, and rel itself does not exist, or is an empty
// directory. placed names the paths earlier includes took.
func freePath(root, rel string, placed map[string]int) error {
	parts := strings.Split(rel, "/")
	for n := 1; n <= len(parts); n++ {
		p := strings.Join(parts[:n], "/")
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		// The deepest include holding p owns it.
		owner, depth := "the repository", -1
		for q, j := range placed {
			if (p == q || strings.HasPrefix(p, q+"/")) && len(q) > depth {
				owner, depth = fmt.Sprintf("spec.include[%d]", j), len(q)
			}
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%q in %s is a symbolic link: an include is never written through one", p, owner)
		case !fi.IsDir():
			return fmt.Errorf("%q already exists in %s as a file: choose a toPath that does not exist", p, owner)
		case n == len(parts):
			entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(p)))
			if err != nil {
				return err
			}
			if len(entries) > 0 {
				return fmt.Errorf("%q already exists in %s: an include never replaces files; choose a toPath that does not exist", p, owner)
			}
		}
	}
	return nil
}

// confine joins rel to root and refuses a result outside root.
func confine(root, rel string) (string, error) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", fmt.Errorf("%q leaves the repository root", rel)
	}
	return p, nil
}

// reconcileArtifact packs the checkout into storage and records it.
func (r *Reconciler) reconcileArtifact(_ context.Context, s *scope) error {
	obj := s.obj
	if s.upToDate {
		runtime.Delete(obj, meta.ArtifactOutdatedCondition)
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason,
			"stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		return nil
	}
	if err := r.copyIncludes(s); err != nil {
		return err
	}
	// Links out of the repository never reach the archive: the checkout
	// did not write those of the commit, and those of submodules go here.
	removed, err := artifact.RemoveOutsideLinks(s.dir)
	if err != nil {
		return runtime.Failed(sourcev1.ArchiveOperationFailedReason, fmt.Errorf("revision %s: %w", s.revision, err))
	}
	filter, err := artifact.IgnoreFilter(s.dir, obj.Spec.Ignore)
	if err != nil {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.ignore: %s", err)
	}
	links := outsideLinks(s.commit.OutsideLinks, removed, filter)
	if err := checkSize(s.dir, filter, r.limits()); err != nil {
		return runtime.Failed(sourcev1.ArchiveOperationFailedReason, err)
	}
	ref := artifact.RefFor(sourcev1.GitRepositoryKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	hash := s.commit.Hash
	art, err := r.Storage.NewArtifact(ref, s.revision, hash+"-"+contentID(s)+".tar.gz")
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	if err := r.Storage.ArchiveDir(&art, s.dir, filter); err != nil {
		var unsafe *artifact.UnsafePathError
		if errors.As(err, &unsafe) {
			return runtime.Failed(sourcev1.ArchiveOperationFailedReason, fmt.Errorf("revision %s: %w", s.revision, err))
		}
		return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
	}
	artifact.SetOutsideLinks(&art, links)
	obj.Status.Artifact = &art
	obj.Status.IncludedArtifacts = s.included
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	obj.Status.ObservedRecurseSubmodules = obj.Spec.RecurseSubmodules
	obj.Status.ObservedInclude = obj.Spec.Include
	obj.Status.ObservedSparseCheckout = obj.Spec.SparseCheckout
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact for revision '%s'", art.Revision)
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctxLog(obj).Info("garbage collection failed", "error", err.Error())
	}
	if len(links) > 0 && r.Recorder != nil {
		r.Recorder.Eventf(obj, map[string]string{"revision": art.Revision}, runtime.SeverityError, SymlinkOutsideRepositoryReason,
			"revision %s: %s; a build that needs them fails", art.Revision, artifact.DescribeOutsideLinks(links))
	}
	return nil
}

// SymlinkOutsideRepositoryReason is the reason of the event that names the
// symbolic links left out of a new artifact because they point outside
// the repository.
const SymlinkOutsideRepositoryReason = "SymlinkOutsideRepository"

// outsideLinks merges the links the checkout left out with those removed
// from the tree afterwards, by path, leaving out those the ignore rules
// would have left out anyway.
func outsideLinks(checkout []git.OutsideLink, removed []artifact.OutsideLink, filter artifact.Filter) []artifact.OutsideLink {
	var out []artifact.OutsideLink
	seen := map[string]bool{}
	add := func(l artifact.OutsideLink) {
		if seen[l.Path] || filter != nil && ignoredPath(filter, l.Path) {
			return
		}
		seen[l.Path] = true
		out = append(out, l)
	}
	for _, l := range checkout {
		add(artifact.OutsideLink{Path: l.Path, Target: l.Target})
	}
	for _, l := range removed {
		add(l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// ignoredPath reports whether the filter leaves out the file at p or one
// of the directories above it.
func ignoredPath(filter artifact.Filter, p string) bool {
	parts := strings.Split(p, "/")
	for n := 1; n < len(parts); n++ {
		if filter(strings.Join(parts[:n], "/"), true) {
			return true
		}
	}
	return filter(p, false)
}

// limits returns r.Limits, with the consumers' extraction defaults for
// unset fields: an artifact that no consumer would unpack is not worth
// storing.
func (r *Reconciler) limits() artifact.Limits {
	l := r.Limits
	if l.MaxSize <= 0 {
		l.MaxSize = artifact.DefaultMaxSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = artifact.DefaultMaxFiles
	}
	return l
}

// checkSize refuses a checkout whose packed files would exceed what
// consumers accept, naming the first file that is too large.
func checkSize(dir string, filter artifact.Filter, lim artifact.Limits) error {
	var total int64
	files := 0
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if filter != nil && filter(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		files++
		if lim.MaxFiles > 0 && files > lim.MaxFiles {
			return fmt.Errorf("the repository holds more than %d files", lim.MaxFiles)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		if lim.MaxSize > 0 && total > lim.MaxSize {
			return fmt.Errorf("the repository is larger than %d bytes, the artifact size limit (file %s brought it over)", lim.MaxSize, rel)
		}
		return nil
	})
}
