package artifact

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// startServer runs a Server over a new storage on a loopback port, with the
// storage advertising that port, and stops it when the test ends.
func startServer(t *testing.T) (*Storage, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s, err := NewStorage(t.TempDir(), addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Listener: ln, Storage: s, Log: logr.Discard()}
	if srv.NeedLeaderElection() {
		t.Error("the artifact server must run on every replica")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
		_ = s.Close()
	})
	return s, addr
}

// rawGet sends a request line as written, without any client-side path
// cleaning, and returns the status code and body.
func rawGet(t *testing.T, addr, method, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServer(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t)
	art, err := s.NewArtifact(podinfo, "main@sha1:abc", "abc.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile(&art, []byte("artifact bytes")); err != nil {
		t.Fatal(err)
	}
	// Things the server must never hand out.
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("top secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := s.BasePath()
	mustWrite(t, filepath.Join(root, "gitrepository/default/podinfo", tempPrefix+"half"), "half written")
	mustWrite(t, filepath.Join(root, "gitrepository/default/podinfo/.hidden"), "hidden")
	if err := os.Symlink(outside, filepath.Join(root, "gitrepository/default/podinfo/out.tar.gz")); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(art.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "artifact bytes" {
		t.Errorf("GET %s: %d %q", art.URL, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" && ct != "application/x-gzip" {
		t.Errorf("Content-Type %q", ct)
	}

	tests := []struct {
		method, target string
		want           int
	}{
		{"HEAD", "/" + art.Path, http.StatusOK},
		{"GET", "/gitrepository/default/podinfo/missing.tar.gz", http.StatusNotFound},
		{"GET", "/gitrepository/default/podinfo/", http.StatusNotFound},
		{"GET", "/gitrepository/default/podinfo", http.StatusNotFound},
		{"GET", "/", http.StatusNotFound},
		{"GET", "/../../../../etc/passwd", http.StatusNotFound},
		{"GET", "/gitrepository/../../etc/passwd", http.StatusNotFound},
		{"GET", "/%2e%2e/%2e%2e/etc/passwd", http.StatusNotFound},
		{"GET", "/gitrepository/default/podinfo/" + tempPrefix + "half", http.StatusNotFound},
		{"GET", "/gitrepository/default/podinfo/.hidden", http.StatusNotFound},
		{"GET", "/gitrepository/default/podinfo/out.tar.gz", http.StatusNotFound},
		{"GET", "//gitrepository/default/podinfo/abc.tar.gz", http.StatusNotFound},
		{"POST", "/" + art.Path, http.StatusMethodNotAllowed},
		{"PUT", "/" + art.Path, http.StatusMethodNotAllowed},
		{"DELETE", "/" + art.Path, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		code, body := rawGet(t, addr, tt.method, tt.target)
		if code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.target, code, tt.want)
		}
		if strings.Contains(body, "root:") || strings.Contains(body, "secret") || strings.Contains(body, "half") {
			t.Errorf("%s %s leaked %q", tt.method, tt.target, body)
		}
	}
	if !s.Exists(art) {
		t.Error("a request changed the storage")
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
