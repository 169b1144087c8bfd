// Package s3server runs an S3-compatible server for tests: gofakes3 with
// its in-memory backend, in-process over plain HTTP on loopback.
package s3server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running S3 server.
type Server struct {
	*httptest.Server
	// Endpoint is host:port, as spec.endpoint of a Bucket names it.
	Endpoint string
	// Backend holds the buckets; tests fill it directly.
	Backend *s3mem.Backend
}

// Start starts a server for t's duration. With an accessKey, a request
// signed with another access key (or not signed) is refused with 403
// InvalidAccessKeyId; gofakes3 does not check signatures, so the secret
// key is not checked.
func Start(t testing.TB, accessKey string) *Server {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	h := faker.Server()
	if accessKey != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if credentialKey(r) != accessKey {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>` +
					`<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`))
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Server{Server: srv, Endpoint: strings.TrimPrefix(srv.URL, "http://"), Backend: backend}
}

// credentialKey is the access key of a SigV4-signed request.
func credentialKey(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Credential="); ok {
			cred = rest
		}
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
}

// Put writes an object.
func (s *Server) Put(t testing.TB, bucket, key, content string) {
	t.Helper()
	// gofakes3 keeps Last-Modified in the metadata its HTTP handler sets.
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}
	if _, err := s.Backend.PutObject(bucket, key, meta, bytes.NewReader([]byte(content)), int64(len(content)), nil); err != nil {
		t.Fatal(err)
	}
}

// Delete removes an object.
func (s *Server) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.Backend.DeleteObject(bucket, key); err != nil {
		t.Fatal(err)
	}
}
