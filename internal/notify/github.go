package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

func init() { register("github", newGitHub) }

// github sets a commit status on the commit of the event's revision
// through the GitHub REST API (api.github.com, or <host>/api/v3 for GitHub
// Enterprise Server), unless the latest status of that context already
// says the same.
type github struct {
	o           Options
	api         string
	owner, repo string
}

type githubStatus struct {
	State       string `json:"state"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

// githubAPI returns the REST API root of the host of g.
func githubAPI(g gitRepo) string {
	if g.host == "github.com" {
		return "https://api.github.com"
	}
	return g.scheme + "://" + g.host + "/api/v3"
}

func newGitHub(o Options) (Notifier, error) {
	g, err := parseGitAddress(o)
	if err != nil {
		return nil, err
	}
	owner, repo, err := g.ownerRepo(o.Type)
	if err != nil {
		return nil, err
	}
	if err := requireToken(o); err != nil {
		return nil, err
	}
	return &github{o: o, api: githubAPI(g), owner: owner, repo: repo}, nil
}

func githubHeaders(token string) func(*request) {
	return func(r *request) {
		r.header.Set("Authorization", "Bearer "+token)
		r.header.Set("Accept", "application/vnd.github+json")
		r.header.Set("X-GitHub-Api-Version", "2022-11-28")
	}
}

func (g *github) Post(ctx context.Context, ev Event) error {
	commit, err := statusEvent(ev)
	if err != nil {
		return err
	}
	name, err := g.o.CommitStatus(ev)
	if err != nil {
		return err
	}
	state := "success"
	if isError(ev) {
		state = "failure"
	}
	_, desc := statusNameAndDescription(ev)
	want := githubStatus{State: state, Description: desc, Context: name}

	list, err := jsonRequest(http.MethodGet, fmt.Sprintf("%s/repos/%s/%s/commits/%s/statuses?per_page=50", g.api, g.owner, g.repo, commit), nil)
	if err != nil {
		return err
	}
	list.headers = g.o.Headers
	githubHeaders(g.o.Token)(list)
	body, _, err := g.o.Client.do(ctx, list)
	if err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var existing []githubStatus
	if err := json.Unmarshal(body, &existing); err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	// Newest first: the first of this context is the current one.
	for _, s := range existing {
		if s.Context == want.Context {
			if s == want {
				return skipped("commit %s already has this status", commit)
			}
			break
		}
	}
	u := fmt.Sprintf("%s/repos/%s/%s/statuses/%s", g.api, g.owner, g.repo, commit)
	return postJSON(ctx, g.o, u, want, githubHeaders(g.o.Token))
}
