package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gotk-dev/gotk/internal/artifact"
)

// emptyConfig is the config blob of Flux's artifacts.
var emptyConfig = []byte("{}")

// PushResult describes a pushed artifact.
type PushResult struct {
	Manifest ocispec.Descriptor
	Layer    ocispec.Descriptor
}

// PushDir packs dir (without what filter excludes) as Flux's content layer
// and pushes it with a manifest carrying annotations, tagged tag. The
// layer is packed deterministically (artifact.Archive) and the manifest
// holds nothing else that changes, so the same tree and annotations give
// the same digest.
func (c *Client) PushDir(ctx context.Context, dir string, filter artifact.Filter, annotations map[string]string, tag string) (PushResult, error) {
	tmp, err := os.CreateTemp("", "oci-layer-*.tar.gz")
	if err != nil {
		return PushResult{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := digest.Canonical.Digester()
	cw := &countWriter{}
	if err := artifact.Archive(dir, io.MultiWriter(tmp, h.Hash(), cw), filter); err != nil {
		return PushResult{}, err
	}
	layer := ocispec.Descriptor{MediaType: ContentMediaType, Digest: h.Digest(), Size: cw.n}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return PushResult{}, err
	}
	return c.PushLayer(ctx, layer, tmp, annotations, tag)
}

// PushLayer pushes one content layer read from r, the config and a
// manifest with annotations, tagged tag.
func (c *Client) PushLayer(ctx context.Context, layer ocispec.Descriptor, r io.Reader, annotations map[string]string, tag string) (PushResult, error) {
	if err := c.pushBlob(ctx, layer, r); err != nil {
		return PushResult{}, err
	}
	config := ocispec.Descriptor{MediaType: ConfigMediaType, Digest: digest.FromBytes(emptyConfig), Size: int64(len(emptyConfig))}
	if err := c.pushBlob(ctx, config, bytes.NewReader(emptyConfig)); err != nil {
		return PushResult{}, err
	}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      config,
		Layers:      []ocispec.Descriptor{layer},
		Annotations: annotations,
	}
	data, err := json.Marshal(m)
	if err != nil {
		return PushResult{}, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := c.repo.PushReference(ctx, desc, bytes.NewReader(data), tag); err != nil {
		return PushResult{}, c.wrap(fmt.Errorf("push manifest as '%s': %w", tag, err))
	}
	return PushResult{Manifest: desc, Layer: layer}, nil
}

func (c *Client) pushBlob(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	ok, err := c.repo.Exists(ctx, desc)
	if err != nil {
		return c.wrap(err)
	}
	if ok {
		return nil
	}
	if err := c.repo.Push(ctx, desc, r); err != nil {
		return c.wrap(fmt.Errorf("push blob %s: %w", desc.Digest, err))
	}
	return nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
