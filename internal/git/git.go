// Package git fetches Git repositories for the GitRepository reconciler:
// it checks out a branch, tag, SemVer range, named ref or commit with
// go-git (shallow where the ref allows it), resolves what a ref points at
// without cloning so an unchanged head costs no download, authenticates
// from a Secret's data (basic auth, bearer token, CA and client
// certificates, SSH keys checked against known_hosts, proxies), verifies
// OpenPGP and SSH signatures of commits and tags, and classifies failures
// into typed errors the reconciler maps to condition reasons.
package git

import (
	"strings"
	"time"
)

// Ref says what to check out. When several fields are set, the first of
// Commit, Name, SemVer, Tag and Branch wins (Branch still narrows where a
// Commit is looked for). An empty Ref means the branch "master", as in
// Flux, or, when the remote has no such branch, the branch its HEAD points
// at.
type Ref struct {
	// Branch to follow.
	Branch string
	// Tag to check out.
	Tag string
	// SemVer is a range; the highest tag that satisfies it is checked out.
	SemVer string
	// Name is a full reference such as refs/heads/main or
	// refs/pull/1/head.
	Name string
	// Commit is a full SHA-1 to check out.
	Commit string
}

// Options says how to reach a repository and what to check out.
type Options struct {
	// Ref selects the commit.
	Ref Ref
	// Auth holds the credentials from the GitRepository's secretRef; nil
	// for anonymous access over HTTP(S).
	Auth *Auth
	// Proxy is the proxy from proxySecretRef; nil for none.
	Proxy *Proxy
	// RecurseSubmodules also checks out submodules, recursively, with the
	// same credentials.
	RecurseSubmodules bool
	// SparseCheckout limits the work tree to these directories.
	SparseCheckout []string
	// FullHistory fetches every ancestor even where a shallow clone would
	// do (branch, tag, semver and name refs are fetched at depth 1
	// otherwise).
	FullHistory bool
}

// Signature is who made a commit or tag, and when.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit is the commit a checkout ended on.
type Commit struct {
	// Hash is the commit's SHA-1 in hex.
	Hash string
	// Ref is the name its revision carries: a branch or tag name, a full
	// ref for Ref.Name, or empty for a bare commit.
	Ref string
	// Author and Committer of the commit.
	Author, Committer Signature
	// Message is the full commit message.
	Message string
	// Signature is the armored OpenPGP or SSH signature, empty when the
	// commit is unsigned.
	Signature string
	// Encoded is the commit object without its signature: the bytes the
	// signature signs.
	Encoded []byte
	// ReferencingTag is the annotated tag the checkout went through, if
	// any.
	ReferencingTag *Tag
	// OutsideLinks are the symbolic links of the checked-out tree that
	// point out of the repository, in tree order. Checkout left them out
	// of the work tree.
	OutsideLinks []OutsideLink
}

// Revision returns the commit's revision string, such as
// "main@sha1:<hash>" (see FormatRevision).
func (c *Commit) Revision() string { return FormatRevision(c.Ref, c.Hash) }

// ShortMessage returns the first line of the message, cut to 72
// characters.
func (c *Commit) ShortMessage() string {
	line, _, _ := strings.Cut(c.Message, "\n")
	if r := []rune(line); len(r) > 72 {
		return string(r[:72]) + "..."
	}
	return line
}

// Tag is an annotated tag.
type Tag struct {
	// Hash is the SHA-1 of the tag object.
	Hash string
	// Name is the tag's name.
	Name string
	// Target is the SHA-1 of the object the tag points at.
	Target string
	// Tagger made the tag.
	Tagger Signature
	// Message is the tag message, without its signature.
	Message string
	// Signature is the armored OpenPGP or SSH signature, empty when the
	// tag is unsigned.
	Signature string
	// Encoded is the tag object without its signature.
	Encoded []byte
}
