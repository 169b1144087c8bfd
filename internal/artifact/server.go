package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Server serves the storage root read-only over HTTP, for consumers to
// download artifacts from the URLs in status. It answers GET and HEAD of
// files only: no directory listings, no names with "..", and no hidden names
// (which keeps files still being written out of reach). It is a
// controller-runtime Runnable that runs on every replica, leader or not, so
// that a consumer can download from whichever replica the Service picks.
type Server struct {
	// Addr is the address to listen on (--storage-addr), used when
	// Listener is nil.
	Addr string
	// Listener, when set, is served instead of listening on Addr.
	Listener net.Listener
	// Storage is what is served.
	Storage *Storage
	// Log receives the server's errors.
	Log logr.Logger
}

// NeedLeaderElection tells the manager to run the server on every replica.
func (s *Server) NeedLeaderElection() bool { return false }

// Handler returns the HTTP handler over the storage.
func (s *Server) Handler() http.Handler {
	return &fileHandler{fsys: s.Storage.FS()}
}

// Start serves until ctx ends, then shuts down, letting downloads in flight
// finish for up to 30 seconds.
func (s *Server) Start(ctx context.Context) error {
	ln := s.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("artifact server: listen on %s: %w", s.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info("serving artifacts", "addr", ln.Addr().String(), "path", s.Storage.BasePath())
	select {
	case err := <-errc:
		return fmt.Errorf("artifact server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("artifact server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("artifact server: %w", err)
	}
	return nil
}

// fileHandler serves regular files of fsys.
type fileHandler struct {
	fsys fs.FS
}

func (h *fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !servable(name) {
		http.NotFound(w, r)
		return
	}
	f, err := h.fsys.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "file cannot be served", http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), rs)
}

// servable accepts a clean relative name without hidden elements.
func servable(name string) bool {
	if name == "" || !fs.ValidPath(name) {
		return false
	}
	for el := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(el, ".") {
			return false
		}
	}
	return true
}
