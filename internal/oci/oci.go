// Package oci reads and writes the OCI artifacts Flux ships sources in: a
// manifest whose config has Flux's config media type and whose single
// layer is a gzip-compressed tar of the files. It resolves tags, SemVer
// ranges and digests, downloads a layer within a size cap, and pushes a
// directory as an artifact whose digest depends on the tree alone.
package oci

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// The media types and annotations of Flux's artifacts, as `flux push
// artifact` writes them.
const (
	ConfigMediaType    = "application/vnd.cncf.flux.config.v1+json"
	ContentMediaType   = "application/vnd.cncf.flux.content.v1.tar+gzip"
	SourceAnnotation   = "org.opencontainers.image.source"
	RevisionAnnotation = "org.opencontainers.image.revision"
	CreatedAnnotation  = "org.opencontainers.image.created"
	// Prefix starts every URL of an OCI repository.
	Prefix = "oci://"
)

// maxManifestSize caps the manifest read from a registry.
const maxManifestSize = 4 << 20

// Options are the credentials and transport settings of one registry.
type Options struct {
	// Username and Password are sent when the registry asks for them.
	Username string
	Password string
	// TLS is the client TLS configuration; nil uses Go's defaults.
	TLS *tls.Config
	// Proxy, when set, carries every request.
	Proxy *url.URL
	// Insecure speaks plain HTTP to the registry.
	Insecure bool
	// UserAgent names the client.
	UserAgent string
}

// Reference is what selects a manifest in a repository: a digest, else a
// SemVer range (over the tags that SemverFilter matches), else a tag, else
// "latest".
type Reference struct {
	Tag          string
	SemVer       string
	SemverFilter string
	Digest       string
}

// Error is a registry's refusal or failure, naming the repository.
type Error struct {
	Repo string
	Err  error
}

// Error names the repository and, for credentials, what to check.
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s%s: %s", Prefix, e.Repo, e.Err)
	if errors.Is(e.Err, auth.ErrBasicCredentialNotFound) {
		return msg + ": the registry asks for credentials and none were given"
	}
	if e.IsAuth() {
		msg += ": the registry refused the credentials"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsAuth reports a 401 or 403, or credentials asked for and not given.
func (e *Error) IsAuth() bool {
	if errors.Is(e.Err, auth.ErrBasicCredentialNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(e.Err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden)
}

// IsNotFound reports a tag, digest or repository the registry does not
// have.
func (e *Error) IsNotFound() bool {
	if errors.Is(e.Err, errdef.ErrNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(e.Err, &resp) && resp.StatusCode == http.StatusNotFound
}

// SplitURL parses oci://host/path[:tag|@digest] into the repository
// (host/path) and the tag or digest, either of which may be empty.
func SplitURL(ociURL string) (repo, tag, dgst string, err error) {
	if !strings.HasPrefix(ociURL, Prefix) {
		return "", "", "", fmt.Errorf("URL %q does not start with %s", ociURL, Prefix)
	}
	rest := strings.TrimPrefix(ociURL, Prefix)
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, dgst = rest[:i], rest[i+1:]
		if _, err := digest.Parse(dgst); err != nil {
			return "", "", "", fmt.Errorf("URL %q: digest %q: %w", ociURL, dgst, err)
		}
	}
	slash := strings.Index(rest, "/")
	if slash <= 0 || slash == len(rest)-1 {
		return "", "", "", fmt.Errorf("URL %q: want %s<host>/<repository>", ociURL, Prefix)
	}
	if i := strings.LastIndex(rest, ":"); i > slash {
		rest, tag = rest[:i], rest[i+1:]
	}
	if _, err := remote.NewRepository(rest); err != nil {
		return "", "", "", fmt.Errorf("URL %q: %w", ociURL, err)
	}
	return rest, tag, dgst, nil
}

// Client talks to one repository.
type Client struct {
	repo *remote.Repository
	name string
}

// NewClient connects to the repository of an oci:// URL; a tag or digest
// in the URL is ignored.
func NewClient(ociURL string, o Options) (*Client, error) {
	name, _, _, err := SplitURL(ociURL)
	if err != nil {
		return nil, err
	}
	repo, err := remote.NewRepository(name)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", ociURL, err)
	}
	repo.PlainHTTP = o.Insecure
	repo.MaxMetadataBytes = maxManifestSize
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.TLS != nil {
		tr.TLSClientConfig = o.TLS.Clone()
	}
	if o.Proxy != nil {
		tr.Proxy = http.ProxyURL(o.Proxy)
	}
	tr.ResponseHeaderTimeout = 2 * time.Minute
	c := &auth.Client{Client: &http.Client{Transport: tr}, Cache: auth.NewCache()}
	if o.UserAgent != "" {
		c.SetUserAgent(o.UserAgent)
	}
	if o.Username != "" || o.Password != "" {
		c.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{Username: o.Username, Password: o.Password})
	}
	repo.Client = c
	return &Client{repo: repo, name: name}, nil
}

// Name is host/path of the repository.
func (c *Client) Name() string { return c.name }

func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Repo: c.name, Err: err}
}

// Resolve finds the manifest that ref selects. It returns the tag it was
// found by ("" for a digest) and its descriptor.
func (c *Client) Resolve(ctx context.Context, ref Reference) (tag string, desc ocispec.Descriptor, err error) {
	switch {
	case ref.Digest != "":
		if _, err := digest.Parse(ref.Digest); err != nil {
			return "", desc, fmt.Errorf("digest %q: %w", ref.Digest, err)
		}
		desc, err = c.repo.Resolve(ctx, ref.Digest)
		if err != nil {
			return "", desc, c.notFound(err, "digest '%s'", ref.Digest)
		}
		return "", desc, nil
	case ref.SemVer != "":
		tag, err = c.LatestSemVer(ctx, ref.SemVer, ref.SemverFilter)
		if err != nil {
			return "", desc, err
		}
	default:
		tag = ref.Tag
		if tag == "" {
			tag = "latest"
		}
	}
	desc, err = c.repo.Resolve(ctx, tag)
	if err != nil {
		return "", desc, c.notFound(err, "tag '%s'", tag)
	}
	return tag, desc, nil
}

func (c *Client) notFound(err error, what string, args ...any) error {
	e := &Error{Repo: c.name, Err: err}
	if e.IsNotFound() {
		return &Error{Repo: c.name, Err: notFound(fmt.Sprintf(what, args...) + " not found")}
	}
	return e
}

// notFound is a message that counts as errdef.ErrNotFound.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return errdef.ErrNotFound }

// Tags lists the repository's tags.
func (c *Client) Tags(ctx context.Context) ([]string, error) {
	var tags []string
	err := c.repo.Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	})
	if err != nil {
		return nil, c.wrap(err)
	}
	return tags, nil
}

// LatestSemVer returns the tag of the highest version within constraint,
// among the tags that filter (a regular expression) matches when set.
func (c *Client) LatestSemVer(ctx context.Context, constraint, filter string) (string, error) {
	con, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("semver %q: %w", constraint, err)
	}
	var re *regexp.Regexp
	if filter != "" {
		if re, err = regexp.Compile(filter); err != nil {
			return "", fmt.Errorf("semverFilter %q: %w", filter, err)
		}
	}
	tags, err := c.Tags(ctx)
	if err != nil {
		return "", err
	}
	best, bestTag := (*semver.Version)(nil), ""
	for _, t := range tags {
		if re != nil && !re.MatchString(t) {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil || !con.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestTag = v, t
		}
	}
	if best == nil {
		msg := fmt.Sprintf("no tag matches semver '%s'", constraint)
		if filter != "" {
			msg += fmt.Sprintf(" with semverFilter '%s'", filter)
		}
		return "", &Error{Repo: c.name, Err: notFound(fmt.Sprintf("%s (%d tags)", msg, len(tags)))}
	}
	return bestTag, nil
}

// Revision is the revision Flux records for a manifest: <tag>@<digest>,
// or the digest alone when no tag selected it.
func Revision(tag string, d digest.Digest) string {
	if tag == "" {
		return d.String()
	}
	return tag + "@" + d.String()
}

// Manifest fetches the image manifest desc describes. An index (a
// multi-platform image) is refused: Flux's artifacts are single manifests.
func (c *Client) Manifest(ctx context.Context, desc ocispec.Descriptor) (*ocispec.Manifest, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		return nil, &Error{Repo: c.name, Err: fmt.Errorf("manifest %s has media type %s: want an image manifest (%s)",
			desc.Digest, desc.MediaType, ocispec.MediaTypeImageManifest)}
	}
	rc, err := c.repo.Fetch(ctx, desc)
	if err != nil {
		return nil, c.wrap(err)
	}
	defer rc.Close()
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, c.wrap(fmt.Errorf("read manifest %s: %w", desc.Digest, err))
	}
	m := &ocispec.Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, c.wrap(fmt.Errorf("manifest %s is not JSON: %w", desc.Digest, err))
	}
	return m, nil
}

// SelectLayer returns the first layer of m, or the first with mediaType
// when it is set.
func SelectLayer(m *ocispec.Manifest, mediaType string) (ocispec.Descriptor, error) {
	if len(m.Layers) == 0 {
		return ocispec.Descriptor{}, errors.New("the manifest has no layer")
	}
	if mediaType == "" {
		return m.Layers[0], nil
	}
	var types []string
	for _, l := range m.Layers {
		if l.MediaType == mediaType {
			return l, nil
		}
		types = append(types, l.MediaType)
	}
	sort.Strings(types)
	return ocispec.Descriptor{}, fmt.Errorf("no layer has media type '%s' (layers: %s)", mediaType, strings.Join(types, ", "))
}

// ErrTooLarge is wrapped by the error of a layer over the size cap.
var ErrTooLarge = errors.New("layer over the size limit")

// FetchLayer copies the blob desc describes to w, refusing one larger than
// maxSize bytes (when positive) before downloading it, and checking size
// and digest of what arrives.
func (c *Client) FetchLayer(ctx context.Context, desc ocispec.Descriptor, maxSize int64, w io.Writer) error {
	if maxSize > 0 && desc.Size > maxSize {
		return &Error{Repo: c.name, Err: fmt.Errorf("layer %s is %d bytes, over the limit of %d bytes: %w",
			desc.Digest, desc.Size, maxSize, ErrTooLarge)}
	}
	rc, err := c.repo.Fetch(ctx, desc)
	if err != nil {
		return c.wrap(fmt.Errorf("fetch layer %s: %w", desc.Digest, err))
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, desc)
	if _, err := io.Copy(w, vr); err != nil {
		return c.wrap(fmt.Errorf("fetch layer %s: %w", desc.Digest, err))
	}
	if err := vr.Verify(); err != nil {
		return c.wrap(fmt.Errorf("fetch layer %s: %w", desc.Digest, err))
	}
	return nil
}

// Tag points tag at the manifest that ref selects.
func (c *Client) Tag(ctx context.Context, ref Reference, tag string) (ocispec.Descriptor, error) {
	_, desc, err := c.Resolve(ctx, ref)
	if err != nil {
		return desc, err
	}
	if err := c.repo.Tag(ctx, desc, tag); err != nil {
		return desc, c.wrap(fmt.Errorf("tag %s as '%s': %w", desc.Digest, tag, err))
	}
	return desc, nil
}
