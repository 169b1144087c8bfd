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
	"slices"
	"strconv"
	"strings"
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

// SecretType is the type of the Secrets that hold Helm's releases.
const SecretType corev1.SecretType = "helm.sh/release.v1"

// secretStore is Helm's Secrets storage driver with the same Secrets
// (type helm.sh/release.v1, the same labels, the release as base64 of
// gzipped JSON), written and read through gzip writers and readers that
// are reused. Helm makes a new gzip writer at its best compression for
// every release it stores, about 1.2 MB of buffers, and a new reader for
// every version it reads: with many releases these buffers were a third
// of all the controller allocated. List is Helm's own.
//
// A store belongs to one Runner, which lives for one reconcile. Once it
// has listed every version of a release (Helm's History, which the
// reconciler reads first), it keeps those Secrets and its own writes to
// them, and answers the other reads of that release from them: Helm's
// actions read the release again and again (its Last, its Deployed, the
// name check of an install, the history that maxHistory trims), each a
// List of Secrets. Another writer of the same release meanwhile would be
// noticed by the write that follows (a create of an existing version
// fails), and the next reconcile lists afresh.
type secretStore struct {
	*driver.Secrets
	impl typedcorev1.SecretInterface

	mu sync.Mutex
	// known is the release whose versions are all in versions (by key);
	// "" while none is.
	known    string
	versions map[string]*corev1.Secret
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
		Type:       SecretType,
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
	created, err := s.impl.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return driver.ErrReleaseExists
		}
		return fmt.Errorf("create: failed to create: %w", err)
	}
	s.remember(v.Name, key, created)
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
	updated, err := s.impl.Update(context.Background(), obj, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update: failed to update: %w", err)
	}
	s.remember(v.Name, key, updated)
	return nil
}

// Delete removes a stored version and returns it.
func (s *secretStore) Delete(key string) (ri.Releaser, error) {
	r, err := s.Get(key)
	if err != nil {
		return nil, err
	}
	if err := s.impl.Delete(context.Background(), key, metav1.DeleteOptions{}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.versions, key)
	s.mu.Unlock()
	return r, nil
}

// remember records the Secret of a version of release name that the
// store wrote, when it knows the versions of that release.
func (s *secretStore) remember(name, key string, obj *corev1.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == name && obj != nil {
		s.versions[key] = obj
	}
}

// releaseOf decodes the release a Secret holds, with its labels less
// Helm's own.
func releaseOf(obj *corev1.Secret) (*rel.Release, error) {
	r, err := decodeRelease(obj.Data["release"])
	if err != nil {
		return nil, err
	}
	r.Labels = maps.Clone(obj.Labels)
	for _, l := range driver.GetSystemLabels() {
		delete(r.Labels, l)
	}
	return r, nil
}

// Get reads the version stored under key.
func (s *secretStore) Get(key string) (ri.Releaser, error) {
	s.mu.Lock()
	obj, ok := s.versions[key]
	s.mu.Unlock()
	if !ok {
		var err error
		obj, err = s.impl.Get(context.Background(), key, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, driver.ErrReleaseNotFound
			}
			return nil, fmt.Errorf("get: failed to get %q: %w", key, err)
		}
	}
	r, err := releaseOf(obj)
	if err != nil {
		return nil, fmt.Errorf("get: failed to decode data %q: %w", key, err)
	}
	return r, nil
}

// Query reads the versions whose Secrets carry labels. A query of every
// version of one release (name and owner) makes the store know them; the
// queries of that release that follow read what it knows.
func (s *secretStore) Query(labels map[string]string) ([]ri.Releaser, error) {
	name := labels["name"]
	items, known := s.knownVersions(name, labels)
	if !known {
		sel, err := kblabels.ValidatedSelectorFromSet(labels)
		if err != nil {
			return nil, fmt.Errorf("invalid label value: %w", err)
		}
		list, err := s.impl.List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("query: failed to query with labels: %w", err)
		}
		items = make([]*corev1.Secret, len(list.Items))
		for i := range list.Items {
			items[i] = &list.Items[i]
		}
		if name != "" && len(labels) == 2 && labels["owner"] == "helm" {
			s.mu.Lock()
			s.known, s.versions = name, make(map[string]*corev1.Secret, len(items))
			for _, item := range items {
				s.versions[item.Name] = item
			}
			s.mu.Unlock()
		}
	}
	if len(items) == 0 {
		return nil, driver.ErrReleaseNotFound
	}
	var out []ri.Releaser
	for _, item := range items {
		r, err := decodeRelease(item.Data["release"])
		if err != nil {
			s.Logger().Debug("failed to decode release", "key", item.Name, "error", err)
			continue
		}
		r.Labels = maps.Clone(item.Labels)
		out = append(out, r)
	}
	return out, nil
}

// knownVersions returns the Secrets of the versions of release name that
// carry labels, and whether the store knows them all.
func (s *secretStore) knownVersions(name string, labels map[string]string) ([]*corev1.Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" || s.known != name || labels["owner"] != "helm" {
		return nil, false
	}
	sel := kblabels.SelectorFromSet(labels)
	var out []*corev1.Secret
	for _, obj := range s.versions {
		if sel.Matches(kblabels.Set(obj.Labels)) {
			out = append(out, obj)
		}
	}
	// In the order of a List: by name.
	slices.SortFunc(out, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	return out, true
}
