package notify

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/gotk-dev/gotk/api/meta"
)

// gitRepo is a repository that commit statuses are set on, parsed from
// spec.address.
type gitRepo struct {
	// scheme and host of the Git host, such as https and github.com.
	scheme, host string
	// id is the path of the repository without ".git": "owner/repo", or
	// "group/subgroup/project" on GitLab.
	id string
}

// parseGitAddress reads an HTTP(S) or SSH repository URL, or an scp-like
// address (git@host:owner/repo.git). SSH addresses take https for the API.
func parseGitAddress(o Options) (gitRepo, error) {
	addr := strings.TrimSpace(o.Address)
	if addr == "" {
		return gitRepo{}, requireAddress(o)
	}
	if !strings.Contains(addr, "://") {
		if at := strings.Index(addr, "@"); at >= 0 {
			if host, path, ok := strings.Cut(addr[at+1:], ":"); ok {
				addr = "ssh://" + addr[:at+1] + host + "/" + path
			}
		}
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return gitRepo{}, fmt.Errorf("provider type %s: address %q is not a repository URL such as https://github.com/owner/repo", o.Type, redactAddr(o.Address))
	}
	scheme := u.Scheme
	host := u.Host
	if scheme != "http" && scheme != "https" {
		scheme = "https"
		host = u.Hostname()
	}
	id := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if id == "" {
		return gitRepo{}, fmt.Errorf("provider type %s: address %q names no repository", o.Type, redactAddr(o.Address))
	}
	return gitRepo{scheme: scheme, host: host, id: id}, nil
}

// ownerRepo splits an id of exactly two parts.
func (g gitRepo) ownerRepo(typ string) (string, string, error) {
	parts := strings.Split(g.id, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("provider type %s: repository %q must be <owner>/<repository>", typ, g.id)
	}
	return parts[0], parts[1], nil
}

var hexCommit = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// commitOf returns the commit of the event's revision: the hex after
// "sha1:" (or "sha256:") in "main@sha1:<commit>", or the last part of a
// legacy "main/<commit>".
func commitOf(ev Event) (string, error) {
	rev, ok := ev.Metadata["revision"]
	if !ok || rev == "" {
		return "", skipped("the event has no revision metadata")
	}
	commit := rev
	if i := strings.LastIndex(commit, "@"); i >= 0 {
		commit = commit[i+1:]
	}
	if i := strings.LastIndex(commit, ":"); i >= 0 {
		commit = commit[i+1:]
	}
	if i := strings.LastIndex(commit, "/"); i >= 0 {
		commit = commit[i+1:]
	}
	if !hexCommit.MatchString(commit) {
		return "", skipped("revision %q names no Git commit", rev)
	}
	return commit, nil
}

// statusEvent checks that ev is one a commit status is set for and
// returns its commit.
func statusEvent(ev Event) (string, error) {
	if strings.EqualFold(ev.Reason, meta.ProgressingReason) {
		return "", skipped("progress is not a commit status")
	}
	if ev.Metadata["commit_status"] == "update" {
		return "", skipped("commit status updates are for Git providers only")
	}
	return commitOf(ev)
}

// statusNameAndDescription returns "kustomization/podinfo" and the reason
// in words, "reconciliation succeeded".
func statusNameAndDescription(ev Event) (string, string) {
	name := strings.ToLower(ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name)
	return name, strings.ToLower(strings.Join(splitCamel(ev.Reason), " "))
}

// splitCamel splits "ReconciliationSucceeded" into its words.
func splitCamel(s string) []string {
	var words []string
	var cur []rune
	runes := []rune(s)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(runes[i-1]) || (i+1 < len(runes) && unicode.IsLower(runes[i+1]))) {
			words = append(words, string(cur))
			cur = nil
		}
		cur = append(cur, r)
	}
	if len(cur) > 0 {
		words = append(words, string(cur))
	}
	return words
}

// DefaultCommitStatus is the commit status name without
// spec.commitStatusExpr: "<kind>/<name>/<first part of the Provider UID>",
// lower case, so two Providers on one repository do not overwrite each
// other's statuses.
func DefaultCommitStatus(providerUID string, ev Event) string {
	uid, _, _ := strings.Cut(providerUID, "-")
	return strings.ToLower(fmt.Sprintf("%s/%s/%s", ev.InvolvedObject.Kind, ev.InvolvedObject.Name, uid))
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
