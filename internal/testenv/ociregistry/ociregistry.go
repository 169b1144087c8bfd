// Package ociregistry runs an OCI registry for tests: the
// distribution/distribution v3 registry in-process, in memory, over plain
// HTTP or HTTPS on loopback, optionally behind htpasswd basic
// authentication.
package ociregistry

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Registry is a running registry.
type Registry struct {
	*httptest.Server
	// Host is host:port, as oci:// URLs name it.
	Host string
	// CAPEM is the PEM certificate a client must trust to reach a
	// registry started with StartTLS; nil for plain HTTP.
	CAPEM []byte

	username, password string
}

// Start starts a registry for t's duration. With a username, every request
// needs basic authentication with it and password.
func Start(t testing.TB, username, password string) *Registry {
	t.Helper()
	return start(t, username, password, false)
}

// StartTLS is Start over HTTPS, with a certificate for 127.0.0.1 that
// CAPEM holds.
func StartTLS(t testing.TB, username, password string) *Registry {
	t.Helper()
	return start(t, username, password, true)
}

func start(t testing.TB, username, password string, useTLS bool) *Registry {
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	if username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(file, []byte(username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "gotk-test", "path": file}}
	}
	// The registry logs every request through logrus's standard logger.
	if os.Getenv("GOTK_TEST_LOG") == "" {
		logrus.SetOutput(io.Discard)
	}
	app := handlers.NewApp(context.Background(), cfg)
	if !useTLS {
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://"), username: username, password: password}
	}
	srv := httptest.NewTLSServer(app)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "https://"), CAPEM: ca, username: username, password: password}
}

// PushChart pushes the chart archive at file to <Host>/<repo>/<name>:<version>
// with Helm's registry client, as `helm push` does, with the registry's
// credentials. It returns the digest of the chart layer.
func (r *Registry) PushChart(t testing.TB, file, repo string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("push %s: %v", file, err)
	}
	opts := []registry.ClientOption{registry.ClientOptPlainHTTP(),
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json"))}
	if r.username != "" {
		opts = append(opts, registry.ClientOptBasicAuth(r.username, r.password))
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("%s/%s/%s:%s", r.Host, strings.Trim(repo, "/"), ch.Name(), ch.Metadata.Version)
	res, err := c.Push(data, ref)
	if err != nil {
		t.Fatalf("push %s to %s: %v", file, ref, err)
	}
	return res.Chart.Digest
}
