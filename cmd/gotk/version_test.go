package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gotk-dev/gotk/internal/version"
)

func TestVersionClient(t *testing.T) {
	r := gotk(t, "", "version", "--client")
	if r.code != 0 || r.stdout != "gotk: "+version.String()+"\n" {
		t.Fatalf("unexpected:\n%s", r)
	}
	r = gotk(t, "", "version", "--client", "-o", "json")
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got["gotk"] != version.String() || len(got) != 1 {
		t.Fatalf("json output %v:\n%s", err, r)
	}
	r = gotk(t, "", "version", "--client", "-o", "yaml")
	if r.code != 0 || r.stdout != "gotk: "+version.String()+"\n" {
		t.Fatalf("yaml output:\n%s", r)
	}
	r = gotk(t, "", "version", "-o", "xml", "--client")
	if r.code == 0 || !strings.Contains(r.stderr, "use yaml or json") {
		t.Fatalf("a bad --output must fail and say what to use:\n%s", r)
	}
}

// Without a reachable cluster, version fails and points at --client.
func TestVersionUnreachableCluster(t *testing.T) {
	var out, errOut strings.Builder
	code := run([]string{"version", "--server=https://127.0.0.1:1", "--kubeconfig=/dev/null", "--request-timeout=5s"}, strings.NewReader(""), &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "cannot reach the Kubernetes API server at https://127.0.0.1:1") ||
		!strings.Contains(errOut.String(), "--client") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	if strings.Contains(errOut.String(), "\x1b[") {
		t.Errorf("no color codes when not on a terminal:\n%q", errOut.String())
	}
}
