package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// statusName is the default commit status name of the test Provider.
const statusName = "kustomization/podinfo/2f9c0b3a"

const providerUID = "2f9c0b3a-aaaa-bbbb-cccc-ddddeeeeffff"

// Each Git host gets the status of the event's commit, on the repository
// of the address, in that host's words for the outcome; an existing
// status of the same name is read first so that a repeat is not posted.
func TestCommitStatusesGoToTheRevisionsCommit(t *testing.T) {
	empty := func(body string) func(*http.Request) (int, string) {
		return func(r *http.Request) (int, string) {
			if r.Method == http.MethodGet {
				return 200, body
			}
			return 201, "{}"
		}
	}
	notFound := func(r *http.Request) (int, string) {
		if r.Method == http.MethodGet {
			return 404, `{"error": "not found"}`
		}
		return 201, "{}"
	}
	bbKey := sha1Hex(statusName)
	opts := func(typ, path, token string) func(string) Options {
		return func(b string) Options {
			return Options{Type: typ, Address: b + path, Token: token, ProviderUID: providerUID}
		}
	}
	runProviderCases(t, []providerCase{
		{
			name: "github failure", opts: opts("github", "/org/app.git", "ghp"), event: failure(), answer: empty("[]"),
			want: []want{
				{method: "GET", path: "/api/v3/repos/org/app/commits/" + commit + "/statuses", query: "per_page=50",
					header: map[string]string{"Authorization": "Bearer ghp"}},
				{method: "POST", path: "/api/v3/repos/org/app/statuses/" + commit, header: map[string]string{"Authorization": "Bearer ghp"},
					json: `{"state": "failure", "description": "health check failed", "context": "` + statusName + `"}`},
			},
		},
		{
			name: "github success after a failure", opts: opts("github", "/org/app", "ghp"), event: success(),
			answer: empty(`[{"state": "failure", "description": "health check failed", "context": "` + statusName + `"}]`),
			want: []want{
				{method: "GET", path: "/api/v3/repos/org/app/commits/" + commit + "/statuses", query: "per_page=50"},
				{method: "POST", path: "/api/v3/repos/org/app/statuses/" + commit,
					json: `{"state": "success", "description": "reconciliation succeeded", "context": "` + statusName + `"}`},
			},
		},
		{
			name: "gitlab subgroup project", opts: opts("gitlab", "/group/sub/app", "glpat"), event: failure(), answer: empty("[]"),
			want: []want{
				{method: "GET", path: "/api/v4/projects/group%2Fsub%2Fapp/repository/commits/" + commit + "/statuses",
					header: map[string]string{"PRIVATE-TOKEN": "glpat"}},
				{method: "POST", path: "/api/v4/projects/group%2Fsub%2Fapp/statuses/" + commit, header: map[string]string{"PRIVATE-TOKEN": "glpat"},
					json: `{"state": "failed", "name": "` + statusName + `", "description": "health check failed"}`},
			},
		},
		{
			name: "gitea", opts: opts("gitea", "/org/app.git", "gt"), event: success(), answer: empty("[]"),
			want: []want{
				{method: "GET", path: "/api/v1/repos/org/app/commits/" + commit + "/statuses", header: map[string]string{"Authorization": "token gt"}},
				{method: "POST", path: "/api/v1/repos/org/app/statuses/" + commit, header: map[string]string{"Authorization": "token gt"},
					json: `{"state": "success", "context": "` + statusName + `", "description": "reconciliation succeeded", "target_url": ""}`},
			},
		},
		{
			name: "bitbucket", opts: opts("bitbucket", "/team/app.git", "user:app-pass"), event: failure(), answer: notFound,
			want: []want{
				{method: "GET", path: "/2.0/repositories/team/app/commit/" + commit + "/statuses/build/" + bbKey,
					header: map[string]string{"Authorization": basic("user", "app-pass")}},
				{method: "POST", path: "/2.0/repositories/team/app/commit/" + commit + "/statuses/build",
					header: map[string]string{"Authorization": basic("user", "app-pass")},
					json: `{"state": "FAILED", "key": "` + bbKey + `", "name": "` + statusName + `", "description": "health check failed",
						"url": "` + "%BASE%" + `/team/app"}`},
			},
		},
		{
			name: "bitbucketserver", opts: opts("bitbucketserver", "/ctx/scm/PROJ/app.git", "bbs"), event: success(), answer: notFound,
			want: []want{
				{method: "GET", path: "/ctx/rest/api/latest/projects/PROJ/repos/app/commits/" + commit + "/builds", query: "key=" + bbKey,
					header: map[string]string{"Authorization": "Bearer bbs", "X-Atlassian-Token": "no-check"}},
				{method: "POST", path: "/ctx/rest/api/latest/projects/PROJ/repos/app/commits/" + commit + "/builds",
					header: map[string]string{"Authorization": "Bearer bbs", "X-Atlassian-Token": "no-check", "X-Requested-With": "XMLHttpRequest"},
					json: `{"key": "` + bbKey + `", "state": "SUCCESSFUL", "name": "kustomization/podinfo [reconciliation succeeded]",
						"description": "reconciliation succeeded", "url": "%BASE%/ctx/scm/PROJ/app.git"}`},
			},
		},
		{
			name: "azuredevops", opts: opts("azuredevops", "/org/proj/_git/app", "pat"), event: failure(), answer: empty(`{"count": 0, "value": []}`),
			want: []want{
				{method: "GET", path: "/org/proj/_apis/git/repositories/app/commits/" + commit + "/statuses", query: "api-version=6.0",
					header: map[string]string{"Authorization": basic("", "pat")}},
				{method: "POST", path: "/org/proj/_apis/git/repositories/app/commits/" + commit + "/statuses", query: "api-version=6.0",
					header: map[string]string{"Authorization": basic("", "pat")},
					json:   `{"state": "error", "description": "health check failed", "context": {"genre": "fluxcd", "name": "` + statusName + `"}}`},
			},
		},
	})
}

// A status that the host already shows for the commit is not posted again.
func TestCommitStatusAlreadySetIsNotPostedAgain(t *testing.T) {
	cases := map[string]struct {
		typ, path, token, existing string
	}{
		"github": {"github", "/org/app", "t", `[{"state": "failure", "description": "health check failed", "context": "` + statusName + `"},
			{"state": "success", "description": "reconciliation succeeded", "context": "` + statusName + `"}]`},
		"gitlab": {"gitlab", "/org/app", "t", `[{"id": 1, "status": "success", "name": "` + statusName + `", "description": "reconciliation succeeded"},
			{"id": 2, "status": "failed", "name": "` + statusName + `", "description": "health check failed"}]`},
		"gitea":           {"gitea", "/org/app", "t", `[{"id": 3, "status": "failure", "context": "` + statusName + `", "description": "health check failed"}]`},
		"bitbucket":       {"bitbucket", "/org/app", "u:p", `{"state": "FAILED", "description": "health check failed"}`},
		"bitbucketserver": {"bitbucketserver", "/scm/P/app", "t", `{"key": "` + sha1Hex(statusName) + `", "state": "FAILED", "name": "kustomization/podinfo [health check failed]", "description": "health check failed"}`},
		"azuredevops":     {"azuredevops", "/o/p/_git/app", "t", `{"value": [{"state": "error", "description": "health check failed", "context": {"genre": "fluxcd", "name": "` + statusName + `"}}]}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			svc := newService(t, func(r *http.Request) (int, string) { return 200, tc.existing })
			n, err := New(Options{Type: tc.typ, Address: svc.URL + tc.path, Token: tc.token, ProviderUID: providerUID, Client: testClient()})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Post(context.Background(), failure())
			if !errors.Is(err, ErrSkipped) {
				t.Errorf("Post = %v, want a skip", err)
			}
			for _, r := range svc.requests() {
				if r.Method != http.MethodGet {
					t.Errorf("posted %s %s although the status is set", r.Method, r.Path)
				}
			}
		})
	}
}

// spec.commitStatusExpr names the status from the event, the Provider and
// the Alert.
func TestCommitStatusExprNamesTheStatus(t *testing.T) {
	expr, err := CompileCommitStatusExpr("event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.env + '/' + provider.metadata.uid.split('-').first().value()")
	if err != nil {
		t.Fatal(err)
	}
	provider := map[string]any{"metadata": map[string]any{"name": "gh", "uid": providerUID}}
	svc := newService(t, func(r *http.Request) (int, string) { return 200, "[]" })
	ev := failure()
	ev.Metadata["env"] = "prod"
	n, err := New(Options{Type: "github", Address: svc.URL + "/org/app", Token: "t", Client: testClient(),
		CommitStatus: func(ev Event) (string, error) { return expr.Eval(ev, provider, map[string]any{}) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Post(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := svc.requests()
	if len(got) != 2 {
		t.Fatalf("got %d requests", len(got))
	}
	sameJSON(t, "status", got[1].Body, `{"state": "failure", "description": "health check failed", "context": "Kustomization/podinfo/prod/2f9c0b3a"}`)

	for _, bad := range []string{"event.", "1 + 2"} {
		if _, err := CompileCommitStatusExpr(bad); err == nil || !strings.Contains(err.Error(), "commitStatusExpr") {
			t.Errorf("CompileCommitStatusExpr(%q) = %v, want an error naming the field", bad, err)
		}
	}
}

// Events whose revision names no commit, and progress events, set no status.
func TestCommitStatusSkipsEventsWithoutACommit(t *testing.T) {
	svc := newService(t, nil)
	n, err := New(Options{Type: "github", Address: svc.URL + "/org/app", Token: "t", Client: testClient()})
	if err != nil {
		t.Fatal(err)
	}
	noRev := failure()
	delete(noRev.Metadata, "revision")
	chart := failure()
	chart.Metadata["revision"] = "6.5.4"
	progress := failure()
	progress.Reason = "Progressing"
	for name, ev := range map[string]Event{"no revision": noRev, "chart version": chart, "progress": progress} {
		if err := n.Post(context.Background(), ev); !errors.Is(err, ErrSkipped) {
			t.Errorf("%s: Post = %v, want a skip", name, err)
		}
	}
	if got := svc.requests(); len(got) != 0 {
		t.Errorf("sent %d requests", len(got))
	}
	for rev, want := range map[string]string{
		"main@sha1:" + commit:         commit,
		"refs/tags/v1@sha1:" + commit: commit,
		"sha1:" + commit:              commit,
		"main/" + commit:              commit,
	} {
		ev := failure()
		ev.Metadata["revision"] = rev
		if got, err := commitOf(ev); err != nil || got != want {
			t.Errorf("commitOf(%q) = %q, %v", rev, got, err)
		}
	}
}
