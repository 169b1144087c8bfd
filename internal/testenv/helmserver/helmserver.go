// Package helmserver runs a Helm chart repository for tests: an HTTP(S)
// server on loopback over a directory of charts packaged with the Helm
// SDK and the index.yaml the SDK generates for them, with optional basic
// authentication and TLS client certificates.
package helmserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Options configure a Server.
type Options struct {
	// Username and Password, when set, are required as basic
	// authentication on every request.
	Username, Password string
	// TLS serves HTTPS and requires a client certificate signed by the
	// server's CA (see Server.CA, ClientCert, ClientKey).
	TLS bool
	// AbsoluteURLs makes the index name charts by absolute URLs instead
	// of paths relative to the index.
	AbsoluteURLs bool
}

// Server is a running chart repository.
type Server struct {
	*httptest.Server
	// Dir holds index.yaml and the chart archives.
	Dir  string
	opts Options
	// CA, ClientCert and ClientKey are PEM; set with Options.TLS.
	CA, ClientCert, ClientKey []byte

	mu       sync.Mutex
	requests []string
}

// Start starts a server for t's duration, with an empty index.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Dir: t.TempDir(), opts: opts}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if opts.TLS {
		s.setupTLS(t)
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	s.Reindex(t)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	if s.opts.Username != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.opts.Username || p != s.opts.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	http.FileServer(http.Dir(s.Dir)).ServeHTTP(w, r)
}

// Requests returns "METHOD /path" of every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Chart describes a chart to package.
type Chart struct {
	Name, Version string
	// Values is the chart's values.yaml.
	Values string
	// Files are extra files at the chart root, such as values files.
	Files map[string]string
	// Templates are extra templates, by path under the chart root
	// ("templates/service.yaml"), next to the ConfigMap every test chart
	// has.
	Templates map[string]string
}

// Package builds c with the Helm SDK into dir and returns the archive's
// path.
func Package(t testing.TB, c Chart, dir string) string {
	t.Helper()
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: c.Name, Version: c.Version, Type: "application"},
		Templates: []*common.File{{
			Name: "templates/configmap.yaml",
			Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"),
		}},
	}
	if c.Values != "" {
		ch.Raw = append(ch.Raw, &common.File{Name: chartutil.ValuesfileName, Data: []byte(c.Values)})
	}
	for name, data := range c.Templates {
		ch.Templates = append(ch.Templates, &common.File{Name: name, Data: []byte(data)})
	}
	for name, data := range c.Files {
		ch.Files = append(ch.Files, &common.File{Name: name, Data: []byte(data)})
	}
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatalf("package chart %s-%s: %v", c.Name, c.Version, err)
	}
	return p
}

// Add packages c into the repository and regenerates the index.
func (s *Server) Add(t testing.TB, c Chart) {
	t.Helper()
	Package(t, c, s.Dir)
	s.Reindex(t)
}

// Reindex writes index.yaml for the archives in Dir with the Helm SDK.
func (s *Server) Reindex(t testing.TB) {
	t.Helper()
	base := ""
	if s.opts.AbsoluteURLs {
		base = s.URL
	}
	idx, err := repo.IndexDirectory(s.Dir, base)
	if err != nil {
		t.Fatalf("index %s: %v", s.Dir, err)
	}
	idx.SortEntries()
	// A fixed timestamp: the index of the same charts is the same file.
	idx.Generated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, versions := range idx.Entries {
		for _, v := range versions {
			v.Created = idx.Generated
		}
	}
	if err := idx.WriteFile(filepath.Join(s.Dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteIndex replaces index.yaml with data, for bad input.
func (s *Server) WriteIndex(t testing.TB, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir, "index.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setupTLS makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and requires client certificates.
func (s *Server) setupTLS(t testing.TB) {
	t.Helper()
	caKey, caCert, caDER := newCert(t, "gotk test CA", nil, nil, true)
	srvKey, _, srvDER := newCert(t, "127.0.0.1", caCert, caKey, false)
	cliKey, _, cliDER := newCert(t, "gotk test client", caCert, caKey, false)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	s.Server.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	s.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	s.ClientCert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cliDER})
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	s.ClientKey = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}
