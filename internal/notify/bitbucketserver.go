package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

func init() { register("bitbucketserver", newBitbucketServer) }

// bitbucketServer sets a build status on a commit in Bitbucket Server or
// Data Center. spec.address is the HTTP(S) clone URL
// (https://host[/context]/scm/<project>/<repo>.git); the token is an HTTP
// access token, or username and password keys give basic auth.
type bitbucketServer struct {
	o       Options
	commits string
	address string
}

type bbServerStatus struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

func newBitbucketServer(o Options) (Notifier, error) {
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	p := strings.TrimSuffix(u.Path, ".git")
	i := strings.LastIndex(p, "/scm/")
	if i < 0 {
		return nil, fmt.Errorf("provider type bitbucketserver: address must be the HTTP clone URL, https://<host>/scm/<project>/<repository>.git")
	}
	parts := strings.Split(p[i+len("/scm/"):], "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("provider type bitbucketserver: address must name /scm/<project>/<repository>")
	}
	if o.Token == "" && (o.User == "" || o.Password == "") {
		return nil, errors.New("provider type bitbucketserver needs a \"token\", or \"username\" and \"password\", in spec.secretRef")
	}
	commits := fmt.Sprintf("%s://%s%s/rest/api/latest/projects/%s/repos/%s/commits", u.Scheme, u.Host, p[:i], parts[0], parts[1])
	return &bitbucketServer{o: o, commits: commits, address: o.Address}, nil
}

func (b *bitbucketServer) auth(r *request) {
	if b.o.Token != "" {
		r.header.Set("Authorization", "Bearer "+b.o.Token)
	} else {
		r.user, r.pass = b.o.User, b.o.Password
	}
	r.header.Set("X-Atlassian-Token", "no-check")
	r.header.Set("X-Requested-With", "XMLHttpRequest")
}

func (b *bitbucketServer) Post(ctx context.Context, ev Event) error {
	commit, err := statusEvent(ev)
	if err != nil {
		return err
	}
	id, err := b.o.CommitStatus(ev)
	if err != nil {
		return err
	}
	state := "SUCCESSFUL"
	if isError(ev) {
		state = "FAILED"
	}
	name, desc := statusNameAndDescription(ev)
	// Bitbucket shows the name alone, so it carries the description.
	name += " [" + desc + "]"
	key := sha1Hex(id)
	u := b.commits + "/" + commit + "/builds"

	get, err := jsonRequest(http.MethodGet, u+"?key="+key, nil)
	if err != nil {
		return err
	}
	get.headers = b.o.Headers
	b.auth(get)
	body, _, err := b.o.Client.do(ctx, get)
	var se *StatusError
	switch {
	case err == nil:
		var cur bbServerStatus
		if json.Unmarshal(body, &cur) == nil && cur.Key == key && cur.State == state && cur.Description == desc && cur.Name == name {
			return skipped("commit %s already has this status", commit)
		}
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
	default:
		return fmt.Errorf("get build status %s of %s: %w", key, commit, err)
	}
	return postJSON(ctx, b.o, u, bbServerStatus{Key: key, State: state, Name: name, Description: desc, URL: b.address}, b.auth)
}
