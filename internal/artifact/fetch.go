package artifact

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gotk-dev/gotk/api/meta"
)

// DigestMismatchError reports an artifact whose content does not have the
// digest its status announced.
type DigestMismatchError struct {
	Source string // URL or storage path
	Want   string
	Got    string
}

// Error names the artifact and both digests.
func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("artifact %s: digest mismatch: status says %s, content is %s", e.Source, e.Want, e.Got)
}

// verifier hashes what is written to it with the algorithm of a digest.
type verifier struct {
	alg string
	h   hash.Hash
}

func newSHA256() *verifier { return &verifier{alg: "sha256", h: sha256.New()} }

// newVerifier returns a verifier for a digest "<algorithm>:<hex>", after
// checking that the hex part has the length and digits of the algorithm
// (digests name cache directories, so they must be plain).
func newVerifier(digest string) (*verifier, error) {
	alg, hexPart, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, fmt.Errorf("digest %q is not <algorithm>:<hex>", digest)
	}
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("digest %q: unsupported algorithm %q", digest, alg)
	}
	if len(hexPart) != 2*h.Size() || strings.ToLower(hexPart) != hexPart {
		return nil, fmt.Errorf("digest %q: want %d lower-case hex digits", digest, 2*h.Size())
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return nil, fmt.Errorf("digest %q: %w", digest, err)
	}
	return &verifier{alg: alg, h: h}, nil
}

func (v *verifier) Write(p []byte) (int, error) { return v.h.Write(p) }

// Digest returns "<algorithm>:<hex>" of what was written.
func (v *verifier) Digest() string { return v.alg + ":" + hex.EncodeToString(v.h.Sum(nil)) }

// Default settings of a Fetcher.
const (
	DefaultRetries         = 4
	DefaultMinBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff      = 8 * time.Second
	DefaultMaxDownloadSize = DefaultMaxSize
)

// Fetcher downloads artifacts for consumers: it retries transient failures
// with exponential backoff, checks the digest of the stream as it reads it,
// and unpacks it with Extract. The zero value is ready to use.
type Fetcher struct {
	// Client makes the requests; nil means a client with a 5 minute timeout.
	Client *http.Client
	// Retries is how many times a failed attempt is repeated (transport
	// errors, 5xx, 408, 429); 0 means DefaultRetries, negative none.
	Retries int
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxDownloadSize caps the compressed size; 0 means
	// DefaultMaxDownloadSize.
	MaxDownloadSize int64
	// Limits caps what an archive unpacks to.
	Limits Limits
}

var defaultClient = &http.Client{Timeout: 5 * time.Minute}

// retryableError marks a failure that another attempt may not repeat.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// Fetch downloads art.URL, verifies it against art.Digest and unpacks it into
// dir (created when missing; it should be empty). On failure dir is emptied,
// so nothing unverified or partial is left for the caller to use.
func (f *Fetcher) Fetch(ctx context.Context, art meta.Artifact, dir string) error {
	_, err := f.FetchStats(ctx, art, dir)
	return err
}

// FetchStats is Fetch, returning what the extraction wrote.
func (f *Fetcher) FetchStats(ctx context.Context, art meta.Artifact, dir string) (Stats, error) {
	var stats Stats
	err := f.retry(ctx, art, func(body io.Reader, v *verifier) error {
		s, err := Extract(body, dir, f.Limits)
		stats = s
		return err
	}, func() { emptyDir(dir) })
	if err != nil {
		emptyDir(dir)
	}
	return stats, err
}

// Download writes the verified artifact file, as it is, to the file dst
// (atomically: a temporary file next to it is renamed into place), for
// artifacts consumed whole, such as a Helm chart or a repository index.
func (f *Fetcher) Download(ctx context.Context, art meta.Artifact, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), tempPrefix+randomSuffix())
	defer os.Remove(tmp)
	err := f.retry(ctx, art, func(body io.Reader, _ *verifier) error {
		out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, body)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	}, func() {})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("artifact %s: %w", art.URL, err)
	}
	return nil
}

// retry runs attempts of one download until one succeeds, a failure is not
// worth repeating, the retries are spent or ctx ends; reset undoes what a
// failed attempt left behind.
func (f *Fetcher) retry(ctx context.Context, art meta.Artifact, consume func(io.Reader, *verifier) error, reset func()) error {
	u, err := url.Parse(art.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("artifact URL %q is not an http(s) URL", art.URL)
	}
	if _, err := newVerifier(art.Digest); err != nil {
		return fmt.Errorf("artifact %s: %w", art.URL, err)
	}
	retries := f.Retries
	if retries == 0 {
		retries = DefaultRetries
	}
	backoff := cmpOr(f.MinBackoff, DefaultMinBackoff)
	maxBackoff := cmpOr(f.MaxBackoff, DefaultMaxBackoff)
	for attempt := 0; ; attempt++ {
		err := f.attempt(ctx, art, consume)
		if err == nil {
			return nil
		}
		var re *retryableError
		if !errors.As(err, &re) || attempt >= retries {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
		reset()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("artifact %s: %w (last error: %v)", art.URL, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attempt makes one request and feeds the body, through the digest check
// and the size cap, to consume. The rest of the body is read even when
// consume stops early, so that a corrupt download is reported as the digest
// mismatch it is rather than as whatever broke first.
func (f *Fetcher) attempt(ctx context.Context, art meta.Artifact, consume func(io.Reader, *verifier) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, art.URL, nil)
	if err != nil {
		return fmt.Errorf("artifact %s: %w", art.URL, err)
	}
	client := f.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("artifact %s: %w", art.URL, err)
		}
		return &retryableError{fmt.Errorf("artifact %s: %w", art.URL, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("artifact %s: server answered %s", art.URL, resp.Status)
		switch {
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusRequestTimeout:
			return &retryableError{err}
		}
		return err
	}
	maxSize := cmpOr(f.MaxDownloadSize, DefaultMaxDownloadSize)
	if resp.ContentLength > maxSize {
		return fmt.Errorf("artifact %s: %d bytes, more than the %d allowed: %w", art.URL, resp.ContentLength, maxSize, ErrLimit)
	}
	v, _ := newVerifier(art.Digest) // checked by retry
	body := &cappedReader{r: resp.Body, left: maxSize}
	tee := &readErrTracker{r: io.TeeReader(body, v)}
	cerr := consume(tee, v)
	// Read what consume left: trailing bytes count in the digest.
	_, derr := io.Copy(io.Discard, tee)
	if tee.err != nil || derr != nil {
		// The transfer itself broke (connection reset, short body): the
		// content is unknown, so another attempt is worth it — unless the
		// cap was hit, which another attempt would hit again.
		terr := tee.err
		if terr == nil {
			terr = derr
		}
		if errors.Is(terr, ErrLimit) {
			return fmt.Errorf("artifact %s: more than %d bytes: %w", art.URL, maxSize, ErrLimit)
		}
		return &retryableError{fmt.Errorf("artifact %s: read: %w", art.URL, terr)}
	}
	if got := v.Digest(); got != art.Digest {
		return &DigestMismatchError{Source: art.URL, Want: art.Digest, Got: got}
	}
	if cerr != nil {
		return fmt.Errorf("artifact %s: %w", art.URL, cerr)
	}
	return nil
}

// readErrTracker remembers the first error, other than EOF, of its reader,
// to tell a broken transfer from a bad archive.
type readErrTracker struct {
	r   io.Reader
	err error
}

func (t *readErrTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

// emptyDir removes what dir holds, keeping dir.
func emptyDir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// cmpOr returns v, or def when v is not positive.
func cmpOr[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
