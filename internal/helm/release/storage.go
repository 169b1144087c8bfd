package release

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"
	"sync"
	"time"

	ri "helm.sh/helm/v4/pkg/release"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kblabels "k8s.io/apimachinery/pkg/labels"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// secretStore is Helm's Secrets storage driver with the same Secrets
// (type helm.sh/release.v1, the same labels, the release as base64 of
// gzipped JSON), written and read through gzip writers and readers that
// are reused. Helm makes a new gzip writer at its best compression for
// every release it stores, about 1.2 MB of buffers, and a new reader for
// every version it reads: with many releases these buffers were a third
// of all the controller allocated. Delete and List are Helm's own.
type secretStore struct {
	*driver.Secrets
	impl typedcorev1.SecretInterface
}

func newSecretStore(impl typedcorev1.SecretInterface) *secretStore {
	return &secretStore{Secrets: driver.NewSecrets(impl), impl: impl}
}

var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
		return w
	}}
	gzipReaders sync.Pool
	magicGzip   = []byte{0x1f, 0x8b, 0x08}
)

// encodeRelease is Helm's encoding: base64 of the gzipped JSON.
func encodeRelease(r *rel.Release) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(buf.Len()))
	base64.StdEncoding.Encode(out, buf.Bytes())
	return out, nil
}

// decodeRelease reads what encodeRelease (or Helm) wrote, and the
// uncompressed JSON of releases stored before Helm compressed them.
func decodeRelease(data []byte) (*rel.Release, error) {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(b, data)
	if err != nil {
		return nil, err
	}
	b = b[:n]
	if len(b) > 3 && bytes.Equal(b[:3], magicGzip) {
		var r *gzip.Reader
		if v := gzipReaders.Get(); v != nil {
			r = v.(*gzip.Reader)
			err = r.Reset(bytes.NewReader(b))
		} else {
			r, err = gzip.NewReader(bytes.NewReader(b))
		}
		if err != nil {
			return nil, err
		}
		b, err = io.ReadAll(r)
		gzipReaders.Put(r)
		if err != nil {
			return nil, err
		}
	}
	var out rel.Release
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// secret is the Secret Helm stores release r in under key, with the
// labels r carries and timeLabel (createdAt or modifiedAt) set to now.
func secret(key string, r *rel.Release, timeLabel string) (*corev1.Secret, error) {
	data, err := encodeRelease(r)
	if err != nil {
		return nil, err
	}
	labels := maps.Clone(r.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[timeLabel] = strconv.FormatInt(time.Now().Unix(), 10)
	labels["name"] = r.Name
	labels["owner"] = "helm"
	labels["status"] = r.Info.Status.String()
	labels["version"] = strconv.Itoa(r.Version)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key, Labels: labels},
		Type:       "helm.sh/release.v1",
		Data:       map[string][]byte{"release": data},
	}, nil
}

// Create stores a new version; ErrReleaseExists when it is there.
func (s *secretStore) Create(key string, r ri.Releaser) error {
	v, err := toV1(r)
	if err != nil {
		return err
	}
	obj, err := secret(key, v, "createdAt")
	if err != nil {
		return fmt.Errorf("create: failed to encode release %q: %w", v.Name, err)
	}
	if _, err := s.impl.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return driver.ErrReleaseExists
		}
		return fmt.Errorf("create: failed to create: %w", err)
	}
	return nil
}

// Update replaces a stored version.
func (s *secretStore) Update(key string, r ri.Releaser) error {
	v, err := toV1(r)
	if err != nil {
		return err
	}
	obj, err := secret(key, v, "modifiedAt")
	if err != nil {
		return fmt.Errorf("update: failed to encode release %q: %w", v.Name, err)
	}
	if _, err := s.impl.Update(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update: failed to update: %w", err)
	}
	return nil
}

// Get reads the version stored under key.
func (s *secretStore) Get(key string) (ri.Releaser, error) {
	obj, err := s.impl.Get(context.Background(), key, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, driver.ErrReleaseNotFound
		}
		return nil, fmt.Errorf("get: failed to get %q: %w", key, err)
	}
	r, err := decodeRelease(obj.Data["release"])
	if err != nil {
		return nil, fmt.Errorf("get: failed to decode data %q: %w", key, err)
	}
	r.Labels = maps.Clone(obj.Labels)
	for _, l := range driver.GetSystemLabels() {
		delete(r.Labels, l)
	}
	return r, nil
}

// Query reads the versions whose Secrets carry labels.
func (s *secretStore) Query(labels map[string]string) ([]ri.Releaser, error) {
	sel, err := kblabels.ValidatedSelectorFromSet(labels)
	if err != nil {
		return nil, fmt.Errorf("invalid label value: %w", err)
	}
	list, err := s.impl.List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("query: failed to query with labels: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, driver.ErrReleaseNotFound
	}
	var out []ri.Releaser
	for _, item := range list.Items {
		r, err := decodeRelease(item.Data["release"])
		if err != nil {
			s.Logger().Debug("failed to decode release", "key", item.Name, "error", err)
			continue
		}
		r.Labels = item.Labels
		out = append(out, r)
	}
	return out, nil
}
