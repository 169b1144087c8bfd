package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// bitbucketAPI is Bitbucket Cloud's REST API 2.0.
const bitbucketAPI = "https://api.bitbucket.org/2.0"

func init() { register("bitbucket", newBitbucket) }

// bitbucket sets a build status on a commit in Bitbucket Cloud. The token
// is "<username>:<app password>" (or username and password keys). The key
// of the status is the SHA-1 of its name, since keys hold 40 characters.
// For a host other than bitbucket.org the API is <host>/2.0.
type bitbucket struct {
	o           Options
	api         string
	web         string
	owner, repo string
	user, pass  string
}

type bitbucketStatus struct {
	State       string `json:"state"`
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

func newBitbucket(o Options) (Notifier, error) {
	g, err := parseGitAddress(o)
	if err != nil {
		return nil, err
	}
	owner, repo, err := g.ownerRepo(o.Type)
	if err != nil {
		return nil, err
	}
	user, pass := o.User, o.Password
	if o.Token != "" {
		var ok bool
		user, pass, ok = strings.Cut(o.Token, ":")
		if !ok {
			return nil, errors.New("provider type bitbucket: the token must be <username>:<app password>")
		}
	}
	if user == "" || pass == "" {
		return nil, errors.New("provider type bitbucket needs a \"token\" key (<username>:<app password>) in spec.secretRef")
	}
	api := bitbucketAPI
	if g.host != "bitbucket.org" {
		api = g.scheme + "://" + g.host + "/2.0"
	}
	return &bitbucket{o: o, api: api, web: g.scheme + "://" + g.host + "/" + g.id, owner: owner, repo: repo, user: user, pass: pass}, nil
}

func (b *bitbucket) Post(ctx context.Context, ev Event) error {
	commit, err := statusEvent(ev)
	if err != nil {
		return err
	}
	name, err := b.o.CommitStatus(ev)
	if err != nil {
		return err
	}
	state := "SUCCESSFUL"
	if isError(ev) {
		state = "FAILED"
	}
	_, desc := statusNameAndDescription(ev)
	key := sha1Hex(name)
	auth := func(r *request) { r.user, r.pass = b.user, b.pass }
	base := fmt.Sprintf("%s/repositories/%s/%s/commit/%s/statuses/build", b.api, b.owner, b.repo, commit)

	get, err := jsonRequest(http.MethodGet, base+"/"+key, nil)
	if err != nil {
		return err
	}
	get.headers = b.o.Headers
	auth(get)
	body, _, err := b.o.Client.do(ctx, get)
	var se *StatusError
	switch {
	case err == nil:
		var cur bitbucketStatus
		if json.Unmarshal(body, &cur) == nil && cur.State == state && cur.Description == desc {
			return skipped("commit %s already has this status", commit)
		}
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
	default:
		return fmt.Errorf("get build status %s of %s: %w", key, commit, err)
	}
	return postJSON(ctx, b.o, base, bitbucketStatus{State: state, Key: key, Name: name, Description: desc, URL: b.web}, auth)
}
