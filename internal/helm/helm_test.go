package helm

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestIndexURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://charts.example.com":           "https://charts.example.com/index.yaml",
		"https://charts.example.com/":          "https://charts.example.com/index.yaml",
		"http://127.0.0.1:8080/sub/charts/":    "http://127.0.0.1:8080/sub/charts/index.yaml",
		"https://u.example.com/a%2Fb?x=1#frag": "https://u.example.com/a%2Fb/index.yaml?x=1",
	} {
		got, err := IndexURL(in)
		if err != nil || got != want {
			t.Errorf("IndexURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"oci://ghcr.io/org/charts", "ftp://example.com", "https://", "::"} {
		if _, err := IndexURL(bad); err == nil || !strings.Contains(err.Error(), "spec.url") {
			t.Errorf("IndexURL(%q) = %v, want an error naming spec.url", bad, err)
		}
	}
}

func TestSecretsMustBeComplete(t *testing.T) {
	if _, _, err := BasicAuthFromSecret(map[string][]byte{"username": []byte("u")}); err == nil {
		t.Error("username without password was accepted")
	}
	if u, p, err := BasicAuthFromSecret(map[string][]byte{"ca.crt": []byte("x")}); err != nil || u != "" || p != "" {
		t.Errorf("a Secret without credentials: %q %q %v", u, p, err)
	}
	for name, data := range map[string]map[string][]byte{
		"cert without key": {"tls.crt": []byte("x")},
		"not PEM pair":     {"tls.crt": []byte("x"), "tls.key": []byte("y")},
		"CA not PEM":       {"ca.crt": []byte("not a certificate")},
	} {
		var se *SecretError
		if _, err := TLSFromSecret(data); !errors.As(err, &se) {
			t.Errorf("%s: %v, want a SecretError", name, err)
		}
	}
}

// Credentials go to the repository's host only, unless PassCredentials.
func TestAuthorizeOnlyRepositoryHost(t *testing.T) {
	repoURL, _ := http.NewRequest(http.MethodGet, "https://charts.example.com/index.yaml", nil)
	for _, tt := range []struct {
		url  string
		pass bool
		want bool
	}{
		{"https://charts.example.com/app-1.0.0.tgz", false, true},
		{"https://cdn.example.net/app-1.0.0.tgz", false, false},
		{"https://cdn.example.net/app-1.0.0.tgz", true, true},
	} {
		req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
		Options{Username: "u", Password: "p", PassCredentials: tt.pass}.authorize(req, repoURL.URL)
		if _, _, got := req.BasicAuth(); got != tt.want {
			t.Errorf("%s passCredentials=%v: credentials sent %v, want %v", tt.url, tt.pass, got, tt.want)
		}
	}
}

// An index without a Content-Length is cut at the cap rather than read
// whole.
func TestFetchIndexCapsChunkedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // no Content-Length: chunked
		for range 64 {
			_, _ = w.Write([]byte("# " + strings.Repeat("x", 1022) + "\n"))
		}
	}))
	defer srv.Close()
	_, err := FetchIndex(context.Background(), srv.URL, Options{}, 16<<10, t.TempDir())
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Max != 16<<10 {
		t.Fatalf("err = %v, want a TooLargeError at 16384", err)
	}
}

// The revision is the sha256 of the canonical form, so two servers that
// format the same index differently give the same revision.
func TestRevisionIgnoresFormatting(t *testing.T) {
	a := "apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n    urls: [app-1.0.0.tgz]\n"
	b := `{"apiVersion":"v1","entries":{"app":[{"urls":["app-1.0.0.tgz"],"version":"1.0.0","name":"app"}]}}`
	var revs []string
	for _, body := range []string{a, b} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		idx, err := FetchIndex(context.Background(), srv.URL, Options{}, DefaultIndexMaxSize, t.TempDir())
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, idx.Revision)
	}
	if revs[0] != revs[1] || !strings.HasPrefix(revs[0], "sha256:") {
		t.Errorf("revisions %v, want the same sha256", revs)
	}
}

// Fetches from one repository reuse its connections: a thousand
// HelmCharts of a repository do not each open one (a TLS handshake each,
// on a real repository) and leave it idle.
func TestFetchesReuseConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("apiVersion: v1\nentries: {}\n"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for range 20 {
		idx, err := FetchIndex(context.Background(), srv.URL, Options{}, DefaultIndexMaxSize, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		idx.Remove()
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("20 fetches in a row opened %d connections, want 1", n)
	}
}
