package git

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// target is a Ref resolved to one remote reference.
type target struct {
	// name is the full remote ref to fetch.
	name plumbing.ReferenceName
	// rev is the name the revision carries.
	rev string
	// what describes the ref in messages, such as `branch "main"`.
	what string
}

// LatestRevision returns the revision the ref points at on the remote,
// such as "main@sha1:<hash>", by listing the remote's refs without
// fetching any object. A reconciler compares it with the revision of its
// artifact and skips the download when they are equal. A Commit ref
// resolves to itself (with its Branch as the revision's name) without
// contacting the remote.
func LatestRevision(ctx context.Context, url string, o Options) (string, error) {
	if err := validateRef(o.Ref); err != nil {
		return "", err
	}
	if o.Ref.Commit != "" {
		return FormatRevision(o.Ref.Branch, strings.ToLower(o.Ref.Commit)), nil
	}
	s, err := newSession(url, o)
	if err != nil {
		return "", err
	}
	refs, err := listRefs(ctx, s)
	if err != nil {
		return "", err
	}
	t, err := resolveTarget(s, o.Ref, refs)
	if err != nil {
		return "", err
	}
	hash, ok := refs.commitOf(t.name)
	if !ok {
		return "", &NotFoundError{URL: RedactURL(url), What: t.what}
	}
	return FormatRevision(t.rev, hash), nil
}

// remoteRefs maps full ref names (and "<tag>^{}" for peeled tags) to
// hashes, plus the target of a symbolic HEAD.
type remoteRefs struct {
	hashes map[string]string
	head   string
}

// commitOf returns the commit a ref points at, peeling annotated tags.
func (r remoteRefs) commitOf(name plumbing.ReferenceName) (string, bool) {
	if h, ok := r.hashes[name.String()+"^{}"]; ok {
		return h, true
	}
	h, ok := r.hashes[name.String()]
	return h, ok
}

func listRefs(ctx context.Context, s *session) (remoteRefs, error) {
	rem := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{s.url}})
	list, err := rem.ListContext(ctx, &gogit.ListOptions{
		Auth:          s.auth,
		CABundle:      s.caBundle,
		ClientCert:    s.clientCert,
		ClientKey:     s.clientKey,
		ProxyOptions:  s.proxy,
		PeelingOption: gogit.AppendPeeled,
	})
	if err != nil {
		return remoteRefs{}, classify(s.url, err, s)
	}
	out := remoteRefs{hashes: make(map[string]string, len(list))}
	for _, ref := range list {
		switch ref.Type() {
		case plumbing.HashReference:
			out.hashes[ref.Name().String()] = ref.Hash().String()
		case plumbing.SymbolicReference:
			if ref.Name() == plumbing.HEAD {
				out.head = ref.Target().String()
			}
		}
	}
	return out, nil
}

// DefaultBranch is the branch an empty Ref follows when the remote has it,
// as Flux does.
const DefaultBranch = "master"

// resolveTarget picks the remote ref for a Ref that is not a commit.
// refs may be empty when the ref names its remote ref without listing
// (branch, tag, name); SemVer and the default branch need the list. An
// empty Ref resolves to DefaultBranch when the remote has it, else to the
// branch the remote's HEAD points at.
func resolveTarget(s *session, ref Ref, refs remoteRefs) (target, error) {
	switch {
	case ref.Name != "":
		if err := validRefName(ref.Name); err != nil {
			return target{}, err
		}
		return target{name: plumbing.ReferenceName(ref.Name), rev: ref.Name, what: fmt.Sprintf("ref %q", ref.Name)}, nil
	case ref.SemVer != "":
		tag, err := highestTag(s, ref.SemVer, refs)
		if err != nil {
			return target{}, err
		}
		return tagTarget(tag), nil
	case ref.Tag != "":
		return tagTarget(ref.Tag), nil
	case ref.Branch != "":
		return branchTarget(ref.Branch), nil
	}
	if refs.hashes == nil {
		return target{}, errors.New("the default branch needs the remote's refs")
	}
	// Flux follows master when no ref is given; a repository without one
	// falls back to the branch its HEAD points at.
	if _, ok := refs.hashes[plumbing.NewBranchReferenceName(DefaultBranch).String()]; ok {
		return branchTarget(DefaultBranch), nil
	}
	head := refs.head
	if head == "" {
		head = guessHead(refs)
	}
	if !strings.HasPrefix(head, "refs/heads/") {
		return target{}, &NotFoundError{URL: RedactURL(s.url), What: "default branch (HEAD)"}
	}
	return branchTarget(strings.TrimPrefix(head, "refs/heads/")), nil
}

// guessHead finds the default branch of a server that does not advertise
// where HEAD points: the branch at HEAD's commit, main and master first.
func guessHead(refs remoteRefs) string {
	h, ok := refs.hashes["HEAD"]
	if !ok {
		return ""
	}
	for _, b := range []string{"refs/heads/main", "refs/heads/master"} {
		if refs.hashes[b] == h {
			return b
		}
	}
	var names []string
	for n, hh := range refs.hashes {
		if hh == h && strings.HasPrefix(n, "refs/heads/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

func branchTarget(b string) target {
	return target{name: plumbing.NewBranchReferenceName(b), rev: b, what: fmt.Sprintf("branch %q", b)}
}

func tagTarget(t string) target {
	return target{name: plumbing.NewTagReferenceName(t), rev: t, what: fmt.Sprintf("tag %q", t)}
}

// highestTag returns the highest tag whose name is a version in the range.
// An invalid range is an *InvalidError; no match is a *NotFoundError.
func highestTag(s *session, rng string, refs remoteRefs) (string, error) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return "", &InvalidError{Field: "spec.ref.semver", Err: fmt.Errorf("range %q: %w", rng, err)}
	}
	var (
		best     *semver.Version
		bestName string
	)
	for name := range refs.hashes {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok || strings.HasSuffix(tag, "^{}") {
			continue
		}
		v, err := semver.NewVersion(tag)
		if err != nil || !c.Check(v) {
			continue
		}
		// Equal versions ("v1.0.0" and "1.0.0") resolve by name so the
		// choice does not depend on map order.
		if best == nil || v.GreaterThan(best) || (v.Equal(best) && tag < bestName) {
			best, bestName = v, tag
		}
	}
	if best == nil {
		return "", &NotFoundError{URL: RedactURL(s.url), What: fmt.Sprintf("tag matching semver range %q", rng)}
	}
	return bestName, nil
}

// validateRef checks the fields of a Ref that decide the checkout, before
// any network traffic.
func validateRef(ref Ref) error {
	switch {
	case ref.Commit != "":
		return validCommit(ref.Commit)
	case ref.Name != "":
		return validRefName(ref.Name)
	case ref.SemVer != "":
		if _, err := semver.NewConstraint(ref.SemVer); err != nil {
			return &InvalidError{Field: "spec.ref.semver", Err: fmt.Errorf("range %q: %w", ref.SemVer, err)}
		}
	}
	return nil
}

func validRefName(name string) error {
	if !strings.HasPrefix(name, "refs/") || strings.ContainsAny(name, " ~^:?*[\\\x00") ||
		strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".lock") {
		return &InvalidError{Field: "spec.ref.name", Err: fmt.Errorf("%q is not a full Git reference such as refs/heads/main", name)}
	}
	return nil
}

func validCommit(c string) error {
	if len(c) != 40 || !isHex(c) {
		return &InvalidError{Field: "spec.ref.commit", Err: fmt.Errorf("%q is not a full 40-character SHA-1", c)}
	}
	return nil
}
