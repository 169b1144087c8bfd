package helm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v4/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// OCIChartRef returns the reference of chart in the repository at an
// oci:// URL: <host>/<path>/<chart>, without a tag.
func OCIChartRef(ociURL, chart string) (string, error) {
	if _, err := RegistryHost(ociURL); err != nil {
		return "", err
	}
	if chart == "" || strings.ContainsAny(chart, ":@") || strings.Contains(chart, "..") {
		return "", fmt.Errorf("spec.chart %q is not a chart name", chart)
	}
	return strings.TrimSuffix(strings.TrimPrefix(ociURL, "oci://"), "/") + "/" + chart, nil
}

// RegistryClient is Helm's registry client with the credentials and
// transport of o. It never reads the Helm or Docker configuration of the
// controller's home: credentials come from o alone. Requests are bounded
// by timeout (the registry client takes no context).
func RegistryClient(ociURL string, o Options, timeout time.Duration) (*registry.Client, error) {
	host, err := RegistryHost(ociURL)
	if err != nil {
		return nil, err
	}
	// The client outlives this call: a transport of its own (with TLS
	// settings) is left to close its idle connections by itself.
	hc, _ := o.httpClient()
	hc.Timeout = timeout
	ac := auth.Client{Client: hc, Cache: auth.NewCache()}
	if o.Username != "" || o.Password != "" {
		ac.Credential = auth.StaticCredential(host, auth.Credential{Username: o.Username, Password: o.Password})
	} else {
		ac.Credential = func(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }
	}
	opts := []registry.ClientOption{
		registry.ClientOptHTTPClient(hc),
		registry.ClientOptAuthorizer(ac),
		// A path that is never written: login data is not persisted.
		registry.ClientOptCredentialsFile(filepath.Join(os.TempDir(), "gotk-registry-credentials-unused.json")),
	}
	if o.Insecure {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	return registry.NewClient(opts...)
}

// SelectOCIVersion returns the newest tag of ref that the SemVer range
// allows. An exact version is returned as it is, without listing tags, as
// registries may refuse to list them.
func SelectOCIVersion(c *registry.Client, ref, constraint string) (string, error) {
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(strings.TrimSpace(constraint), "v")); err == nil && !strings.ContainsAny(constraint, "<>=~^*xX|, ") {
		return v.Original(), nil
	}
	host, _, _ := strings.Cut(ref, "/")
	tags, err := c.Tags(ref)
	if err != nil {
		return "", &RegistryError{Host: host, Err: fmt.Errorf("list tags of %s: %w", ref, err)}
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	if len(tags) == 0 {
		return "", &ChartNotFoundError{Chart: name, Where: "oci://" + ref + " (no SemVer tags)"}
	}
	return SelectFrom(name, tags, constraint)
}

// PullOCIChart pulls the chart archive of ref at version with Helm's
// registry client into file. A chart layer over MaxChartSize is refused
// before it is downloaded; the registry client checks the layer's digest.
// It returns the digest of the chart layer.
func PullOCIChart(c *registry.Client, ref, version, file string) (string, error) {
	host, _, _ := strings.Cut(ref, "/")
	full := ref + ":" + version
	res, err := c.Generic().PullGeneric(full, registry.GenericPullOptions{
		AllowedMediaTypes: []string{ocispec.MediaTypeImageManifest, registry.ConfigMediaType,
			registry.ChartLayerMediaType, registry.LegacyChartLayerMediaType},
		PreCopy: func(_ context.Context, d ocispec.Descriptor) error {
			if d.Size > MaxChartSize {
				return fmt.Errorf("layer %s of %s is %d bytes, more than the %d a chart may have", d.Digest, full, d.Size, MaxChartSize)
			}
			return nil
		},
	})
	if err != nil {
		return "", &RegistryError{Host: host, Err: fmt.Errorf("pull %s: %w", full, err)}
	}
	var layer *ocispec.Descriptor
	for i, d := range res.Descriptors {
		if d.MediaType == registry.ChartLayerMediaType || d.MediaType == registry.LegacyChartLayerMediaType {
			layer = &res.Descriptors[i]
		}
	}
	if layer == nil {
		return "", fmt.Errorf("%s has no Helm chart layer (%s): is it a chart?", full, registry.ChartLayerMediaType)
	}
	data, err := c.Generic().GetDescriptorData(res.MemoryStore, *layer)
	if err != nil {
		return "", fmt.Errorf("read the chart layer of %s: %w", full, err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return "", err
	}
	return layer.Digest.String(), nil
}
