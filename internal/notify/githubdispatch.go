package notify

import (
	"context"
	"fmt"
)

func init() { register("githubdispatch", newGitHubDispatch) }

// githubDispatch triggers a repository_dispatch event, so that GitHub
// Actions workflows can run on what gotk did. The event type is
// "<Kind>/<name>.<namespace>" and the client payload is the event.
type githubDispatch struct {
	o           Options
	api         string
	owner, repo string
}

type dispatchRequest struct {
	EventType     string `json:"event_type"`
	ClientPayload Event  `json:"client_payload"`
}

func newGitHubDispatch(o Options) (Notifier, error) {
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
	return &githubDispatch{o: o, api: githubAPI(g), owner: owner, repo: repo}, nil
}

func (g *githubDispatch) Post(ctx context.Context, ev Event) error {
	if ev.Metadata["commit_status"] == "update" {
		return skipped("commit status updates are for Git providers only")
	}
	o := ev.InvolvedObject
	payload := dispatchRequest{EventType: fmt.Sprintf("%s/%s.%s", o.Kind, o.Name, o.Namespace), ClientPayload: ev}
	return postJSON(ctx, g.o, fmt.Sprintf("%s/repos/%s/%s/dispatches", g.api, g.owner, g.repo), payload, githubHeaders(g.o.Token))
}
