package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

func init() { register("gitea", newGitea) }

// gitea sets a commit status through the Gitea (or Forgejo) API v1,
// unless the latest status of that context says the same.
type gitea struct {
	o           Options
	api         string
	owner, repo string
}

type giteaStatus struct {
	ID          int64  `json:"id,omitempty"`
	State       string `json:"state,omitempty"`
	Status      string `json:"status,omitempty"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

func newGitea(o Options) (Notifier, error) {
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
	return &gitea{o: o, api: g.scheme + "://" + g.host + "/api/v1", owner: owner, repo: repo}, nil
}

func (g *gitea) Post(ctx context.Context, ev Event) error {
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
	auth := func(r *request) { r.header.Set("Authorization", "token "+g.o.Token) }

	list, err := jsonRequest(http.MethodGet, fmt.Sprintf("%s/repos/%s/%s/commits/%s/statuses", g.api, g.owner, g.repo, commit), nil)
	if err != nil {
		return err
	}
	list.headers = g.o.Headers
	auth(list)
	body, _, err := g.o.Client.do(ctx, list)
	if err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var existing []giteaStatus
	if err := json.Unmarshal(body, &existing); err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var latest *giteaStatus
	for i := range existing {
		if existing[i].Context == name && (latest == nil || existing[i].ID > latest.ID) {
			latest = &existing[i]
		}
	}
	if latest != nil && (latest.Status == state || latest.State == state) && latest.Description == desc {
		return skipped("commit %s already has this status", commit)
	}
	u := fmt.Sprintf("%s/repos/%s/%s/statuses/%s", g.api, g.owner, g.repo, commit)
	return postJSON(ctx, g.o, u, giteaStatus{State: state, Context: name, Description: desc}, auth)
}
