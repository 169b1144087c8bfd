package helm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// DefaultIndexMaxSize is how large an index.yaml may be unless
// --helm-index-max-size says otherwise: 50 MiB, as in Flux.
const DefaultIndexMaxSize int64 = 50 << 20

// HTTPError is a response other than 200 OK.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("GET %s: %s", e.URL, e.Status)
	if e.IsAuth() {
		msg += ": the repository refused the credentials (check spec.secretRef and spec.certSecretRef)"
	}
	return msg
}

// IsAuth reports a 401 or 403.
func (e *HTTPError) IsAuth() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// TooLargeError reports a download over its cap.
type TooLargeError struct {
	URL string
	Max int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes, the limit set by --helm-index-max-size", e.URL, e.Max)
}

// InvalidIndexError reports an index.yaml that Helm cannot load.
type InvalidIndexError struct {
	URL string
	Err error
}

func (e *InvalidIndexError) Error() string {
	return fmt.Sprintf("%s is not a valid Helm repository index: %s", e.URL, e.Err)
}

func (e *InvalidIndexError) Unwrap() error { return e.Err }

// IndexURL returns the address of the index of the repository at repoURL.
func IndexURL(repoURL string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil {
		return "", fmt.Errorf("spec.url %q: %w", repoURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("spec.url %q: scheme must be http or https", repoURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("spec.url %q has no host", repoURL)
	}
	u = u.JoinPath("index.yaml")
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// Index is a loaded repository index with its canonical form: the JSON of
// the index after Helm sorted its entries. Revision is the sha256 of Data,
// so the same charts give the same revision whatever the server's
// formatting.
type Index struct {
	*repo.IndexFile
	Data     []byte
	Revision string
}

// FetchedIndex is a downloaded index in its canonical form (see
// CanonicalizeIndex), in a temporary file that Remove deletes.
type FetchedIndex struct {
	// File holds the canonical JSON; Revision is its sha256.
	File     string
	Revision string
	dir      string
}

// Remove deletes the temporary files of the index.
func (f *FetchedIndex) Remove() {
	if f != nil && f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
}

// FetchIndex downloads the index of the repository at repoURL and
// converts it to its canonical form. It reads at most maxSize bytes; a
// larger index is refused before it is parsed. The download goes to a
// temporary directory in dir ("" for the system's); the caller removes it
// with Remove.
func FetchIndex(ctx context.Context, repoURL string, o Options, maxSize int64, dir string) (*FetchedIndex, error) {
	indexURL, err := IndexURL(repoURL)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, "helm-index-")
	if err != nil {
		return nil, err
	}
	f := &FetchedIndex{dir: tmp, File: filepath.Join(tmp, "index.json")}
	file := filepath.Join(tmp, "index.yaml")
	base, err := url.Parse(repoURL)
	if err == nil {
		err = download(ctx, indexURL, base, o, maxSize, file)
	}
	if err == nil {
		f.Revision, err = CanonicalizeIndex(file, f.File, indexURL)
	}
	_ = os.Remove(file)
	if err != nil {
		f.Remove()
		return nil, err
	}
	return f, nil
}

// download GETs u into file, refusing more than maxSize bytes. Credentials
// go as o allows for the repository at base.
func download(ctx context.Context, u string, base *url.URL, o Options, maxSize int64, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	o.authorize(req, base)
	hc, done := o.httpClient()
	defer done()
	resp, err := hc.Do(req)
	if err != nil {
		// A *url.Error names the method and URL already.
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if maxSize > 0 && resp.ContentLength > maxSize {
		return &TooLargeError{URL: u, Max: maxSize}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var body io.Reader = resp.Body
	if maxSize > 0 {
		body = io.LimitReader(resp.Body, maxSize+1)
	}
	n, err := io.Copy(f, body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if maxSize > 0 && n > maxSize {
		return &TooLargeError{URL: u, Max: maxSize}
	}
	return f.Close()
}

// LoadIndex loads the index at file with the Helm SDK; source names it in
// errors.
func LoadIndex(file, source string) (*Index, error) {
	idx, err := repo.LoadIndexFile(file)
	if err != nil {
		// The SDK prefixes the temporary file name, which tells the
		// user nothing.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, &InvalidIndexError{URL: source, Err: err}
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, &InvalidIndexError{URL: source, Err: err}
	}
	sum := sha256.Sum256(data)
	return &Index{IndexFile: idx, Data: data, Revision: "sha256:" + hex.EncodeToString(sum[:])}, nil
}
