package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

func init() { register("gitlab", newGitLab) }

// gitlab sets a commit status through the GitLab REST API v4 of the host
// in spec.address, unless the latest status of that name says the same.
type gitlab struct {
	o       Options
	api     string
	project string
}

type gitlabStatus struct {
	ID          int64  `json:"id,omitempty"`
	State       string `json:"state,omitempty"`
	Status      string `json:"status,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func newGitLab(o Options) (Notifier, error) {
	g, err := parseGitAddress(o)
	if err != nil {
		return nil, err
	}
	if err := requireToken(o); err != nil {
		return nil, err
	}
	return &gitlab{o: o, api: g.scheme + "://" + g.host + "/api/v4", project: url.PathEscape(g.id)}, nil
}

func (g *gitlab) Post(ctx context.Context, ev Event) error {
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
		state = "failed"
	}
	_, desc := statusNameAndDescription(ev)
	auth := func(r *request) { r.header.Set("PRIVATE-TOKEN", g.o.Token) }

	list, err := jsonRequest(http.MethodGet, fmt.Sprintf("%s/projects/%s/repository/commits/%s/statuses", g.api, g.project, commit), nil)
	if err != nil {
		return err
	}
	list.headers = g.o.Headers
	auth(list)
	body, _, err := g.o.Client.do(ctx, list)
	if err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var existing []gitlabStatus
	if err := json.Unmarshal(body, &existing); err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var latest *gitlabStatus
	for i := range existing {
		if existing[i].Name == name && (latest == nil || existing[i].ID > latest.ID) {
			latest = &existing[i]
		}
	}
	if latest != nil && latest.Status == state && latest.Description == desc {
		return skipped("commit %s already has this status", commit)
	}
	u := fmt.Sprintf("%s/projects/%s/statuses/%s", g.api, g.project, commit)
	return postJSON(ctx, g.o, u, gitlabStatus{State: state, Name: name, Description: desc}, auth)
}
