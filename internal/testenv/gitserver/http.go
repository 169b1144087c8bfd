package gitserver

import (
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxBuffered caps a chunked request body that the server reads into
// memory before handing it to git http-backend.
const maxBuffered = 256 << 20

// HTTPOptions configures an HTTP Git server. With neither basic auth nor a
// bearer token set, the server accepts anonymous requests; with both set,
// either credential is accepted.
type HTTPOptions struct {
	// Username and Password, when Username is set, are the basic-auth
	// credentials the server requires.
	Username, Password string
	// BearerToken, when set, is accepted as "Authorization: Bearer <token>".
	BearerToken string
	// TLS serves HTTPS with a certificate issued by a CA made for the
	// server (HTTPServer.CA).
	TLS bool
	// RequireClientCert asks for a client certificate issued by the
	// server's CA (implies TLS).
	RequireClientCert bool
}

// HTTPServer serves the bare repositories under Root over Git's smart HTTP
// protocol through the real `git http-backend`.
type HTTPServer struct {
	// Root holds the bare repositories; a repository at Root/a/b.git is
	// served at URL + "/a/b.git".
	Root string
	// URL is the server's base URL, http:// or https://127.0.0.1:port.
	URL string
	// CA is the authority that signed the server certificate; nil
	// without TLS.
	CA *CA

	opts     HTTPOptions
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	requests []string
}

// NewHTTP starts an HTTP Git server for the repositories under root.
func NewHTTP(root string, opts HTTPOptions) (*HTTPServer, error) {
	backend, err := gitProgram("git-http-backend")
	if err != nil {
		return nil, err
	}
	if opts.RequireClientCert {
		opts.TLS = true
	}
	s := &HTTPServer{Root: root, opts: opts}
	cgiHandler := &cgi.Handler{
		Path:   backend,
		Root:   "/",
		Dir:    root,
		Stderr: io.Discard,
		Env: isolatedEnv(
			"GIT_PROJECT_ROOT="+root,
			"GIT_HTTP_EXPORT_ALL=1",
			// Pushing over HTTP is refused unless enabled, and
			// repositories made by another user need safe.directory.
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=safe.directory",
			"GIT_CONFIG_VALUE_1=*",
		),
	}
	s.srv = &http.Server{
		Handler:           s.handler(cgiHandler),
		ReadHeaderTimeout: 30 * time.Second,
		// Failed TLS handshakes are what some tests are about: keep them
		// out of the test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the HTTP git server: %w", err)
	}
	scheme := "http"
	if opts.TLS {
		if s.CA, err = NewCA(); err != nil {
			ln.Close()
			return nil, err
		}
		cert, err := s.CA.IssueServer()
		if err != nil {
			ln.Close()
			return nil, err
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = s.CA.Pool()
		}
		ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	s.ln = ln
	s.URL = scheme + "://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// StartHTTP starts an HTTP Git server for the test and stops it when the
// test ends.
func StartHTTP(t testing.TB, root string, opts HTTPOptions) *HTTPServer {
	t.Helper()
	SkipShort(t)
	s, err := NewHTTP(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// RepoURL returns the URL of the repository at the path relative to Root,
// such as "org/app.git".
func (s *HTTPServer) RepoURL(repo string) string {
	return s.URL + "/" + strings.TrimPrefix(repo, "/")
}

// Requests returns the requests served so far as "METHOD /path?query",
// in order; tests use it to see whether a client fetched objects (a POST
// to git-upload-pack) or only listed references.
func (s *HTTPServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Close stops the server.
func (s *HTTPServer) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *HTTPServer) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()

		if !s.authorized(r) {
			if s.opts.Username != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="gotk-test"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gotk-test"`)
			}
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		// net/http/cgi refuses chunked bodies, which git sends for large
		// pushes: read them into memory and pass a plain length on.
		if len(r.TransferEncoding) > 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBuffered+1))
			if err != nil {
				http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if len(body) > maxBuffered {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		}
		next.ServeHTTP(w, r)
	})
}

func (s *HTTPServer) authorized(r *http.Request) bool {
	if s.opts.Username == "" && s.opts.BearerToken == "" {
		return true
	}
	if s.opts.Username != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, s.opts.Username) && equal(p, s.opts.Password) {
			return true
		}
	}
	if s.opts.BearerToken != "" {
		h := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal(tok, s.opts.BearerToken) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
