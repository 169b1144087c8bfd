package git

import (
	"fmt"
	"strings"
)

// Digest algorithms a revision names.
const (
	// SHA1 is the hash of Git's default object format.
	SHA1 = "sha1"
	// SHA256 is the hash of Git's sha256 object format.
	SHA256 = "sha256"
)

// Revision is a parsed revision string: "<ref>@<algo>:<hash>" or, for a
// bare commit, "<algo>:<hash>".
type Revision struct {
	// Ref is the branch or tag name or full ref; empty for a bare commit.
	Ref string
	// Algo is SHA1 or SHA256.
	Algo string
	// Hash is the commit hash, lower-case hex.
	Hash string
}

// String formats the revision.
func (r Revision) String() string {
	if r.Ref == "" {
		return r.Algo + ":" + r.Hash
	}
	return r.Ref + "@" + r.Algo + ":" + r.Hash
}

// FormatRevision returns the revision string of a SHA-1 commit reached
// through ref: "main@sha1:<hash>", "v1.0.0@sha1:<hash>",
// "refs/pull/1/head@sha1:<hash>", or "sha1:<hash>" when ref is empty.
func FormatRevision(ref, hash string) string {
	return Revision{Ref: ref, Algo: SHA1, Hash: hash}.String()
}

// ParseRevision parses a revision string. The hash must be full-length
// lower-case hex for its algorithm.
func ParseRevision(s string) (Revision, error) {
	var r Revision
	digest := s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		r.Ref, digest = s[:i], s[i+1:]
		if r.Ref == "" {
			return Revision{}, fmt.Errorf("revision %q has an empty ref before '@'", s)
		}
		if strings.ContainsAny(r.Ref, " \t\n\x00") {
			return Revision{}, fmt.Errorf("revision %q has white space in its ref", s)
		}
	}
	algo, hash, ok := strings.Cut(digest, ":")
	if !ok {
		return Revision{}, fmt.Errorf("revision %q has no '<algorithm>:<hash>' part", s)
	}
	want := 0
	switch algo {
	case SHA1:
		want = 40
	case SHA256:
		want = 64
	default:
		return Revision{}, fmt.Errorf("revision %q names unknown digest algorithm %q", s, algo)
	}
	if len(hash) != want || !isLowerHex(hash) {
		return Revision{}, fmt.Errorf("revision %q: %s hash must be %d lower-case hex characters", s, algo, want)
	}
	r.Algo, r.Hash = algo, hash
	return r, nil
}

// TransformRevision rewrites a revision in the legacy "<ref>/<hash>" form
// (and a bare 40-character hash) into the current "<ref>@sha1:<hash>" (or
// "sha1:<hash>"), so revisions recorded by older controllers compare
// equal to new ones. "HEAD/<hash>" becomes "sha1:<hash>". Anything else,
// including revisions already in the current form, is returned unchanged.
func TransformRevision(s string) string {
	if s == "" || strings.Contains(s, "@") || strings.Contains(s, ":") {
		return s
	}
	if len(s) == 40 && isHex(s) {
		return FormatRevision("", strings.ToLower(s))
	}
	i := strings.LastIndex(s, "/")
	if i <= 0 {
		return s
	}
	ref, hash := s[:i], s[i+1:]
	if len(hash) != 40 || !isHex(hash) || strings.ContainsAny(ref, " \t\n\x00") {
		return s
	}
	if ref == "HEAD" {
		ref = ""
	}
	return FormatRevision(ref, strings.ToLower(hash))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
