package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// azureAPIVersion is the REST API version of the Git statuses calls.
const azureAPIVersion = "6.0"

func init() { register("azuredevops", newAzureDevOps) }

// azureDevOps sets a commit status in Azure DevOps Repos with a personal
// access token (the token), unless the latest status of that name says
// the same. spec.address is https://dev.azure.com/<org>/<project>/_git/<repo>.
type azureDevOps struct {
	o        Options
	statuses string
}

type azureStatus struct {
	State       string       `json:"state"`
	Description string       `json:"description"`
	Context     azureContext `json:"context"`
}

type azureContext struct {
	Genre string `json:"genre"`
	Name  string `json:"name"`
}

// azureGenre groups gotk's statuses, as Flux's.
const azureGenre = "fluxcd"

func newAzureDevOps(o Options) (Notifier, error) {
	g, err := parseGitAddress(o)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(g.id, "/")
	if len(parts) != 4 || parts[2] != "_git" {
		return nil, fmt.Errorf("provider type azuredevops: address must be https://dev.azure.com/<organization>/<project>/_git/<repository>")
	}
	if err := requireToken(o); err != nil {
		return nil, err
	}
	statuses := fmt.Sprintf("%s://%s/%s/%s/_apis/git/repositories/%s/commits", g.scheme, g.host, parts[0], parts[1], parts[3])
	return &azureDevOps{o: o, statuses: statuses}, nil
}

func (a *azureDevOps) Post(ctx context.Context, ev Event) error {
	commit, err := statusEvent(ev)
	if err != nil {
		return err
	}
	name, err := a.o.CommitStatus(ev)
	if err != nil {
		return err
	}
	state := "succeeded"
	if isError(ev) {
		state = "error"
	}
	_, desc := statusNameAndDescription(ev)
	want := azureStatus{State: state, Description: desc, Context: azureContext{Genre: azureGenre, Name: name}}
	auth := func(r *request) { r.user, r.pass = "", a.o.Token }
	u := fmt.Sprintf("%s/%s/statuses?api-version=%s", a.statuses, commit, azureAPIVersion)

	list, err := jsonRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	list.headers = a.o.Headers
	auth(list)
	body, _, err := a.o.Client.do(ctx, list)
	if err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	var existing struct {
		Value []azureStatus `json:"value"`
	}
	if err := json.Unmarshal(body, &existing); err != nil {
		return fmt.Errorf("list commit statuses of %s: %w", commit, err)
	}
	// Newest first: the first of this context is the current one.
	for _, s := range existing.Value {
		if s.Context == want.Context {
			if s.State == want.State && s.Description == want.Description {
				return skipped("commit %s already has this status", commit)
			}
			break
		}
	}
	return postJSON(ctx, a.o, u, want, auth)
}
