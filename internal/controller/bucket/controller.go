// Package bucket reconciles Bucket objects with provider generic: it lists
// the objects of an S3-compatible bucket below the prefix, computes the
// revision from their keys and ETags (so that an unchanged bucket costs a
// listing and nothing more), and when it moved downloads the objects and
// stores them as a tar.gz artifact.
package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/artifact"
	"github.com/gotk-dev/gotk/internal/git"
	"github.com/gotk-dev/gotk/internal/helm"
	"github.com/gotk-dev/gotk/internal/runtime"
)

// The keys of the Secret that spec.secretRef names.
const (
	AccessKeyKey = "accesskey"
	SecretKeyKey = "secretkey"
)

// downloadWorkers is how many objects are fetched at once.
const downloadWorkers = 8

// Reconciler reconciles Bucket objects.
type Reconciler struct {
	client.Client
	Storage  *artifact.Storage
	Recorder *runtime.Recorder
	Metrics  *runtime.Metrics
	// Limits cap the bytes and objects a bucket may hold below its
	// prefix; zero fields take artifact.DefaultMaxSize and
	// artifact.DefaultMaxFiles.
	Limits artifact.Limits
}

// object is one listed object.
type object struct {
	Key  string
	ETag string
	Size int64
}

type scope struct {
	obj      *sourcev1.Bucket
	client   *minio.Client
	objects  []object
	revision string
	upToDate bool
	tmp      string
}

// Reconcile brings one Bucket's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &sourcev1.Bucket{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	prevRevision := ""
	if obj.Status.Artifact != nil {
		prevRevision = obj.Status.Artifact.Revision
	}
	patcher, before, proceed, err := runtime.Begin(ctx, r.Client, obj, sourcev1.BucketKind, r.Metrics)
	if err != nil || !proceed {
		return ctrl.Result{}, err
	}
	s := &scope{obj: obj}
	defer func() {
		summarize(obj, retErr)
		r.announce(obj, s, retErr, before.Ready, before.Message, prevRevision)
		result, retErr = runtime.Ending{Kind: sourcev1.BucketKind, Metrics: r.Metrics, Start: start, Patcher: patcher}.
			Finish(ctx, obj, retErr, obj.GetRequeueAfter())
		if s.tmp != "" {
			_ = os.RemoveAll(s.tmp)
		}
	}()

	return ctrl.Result{}, runtime.Phases(ctx, obj.GetTimeout(), s,
		r.reconcileStorage,
		r.reconcileClient,
		r.reconcileSource,
		r.reconcileArtifact,
	)
}

func (r *Reconciler) reconcileStorage(_ context.Context, s *scope) error {
	return r.Storage.ReconcileStorage(sourcev1.BucketKind, s.obj, s.obj.Status.Artifact)
}

// reconcileClient checks the spec and builds the S3 client from it and
// the referenced Secrets.
func (r *Reconciler) reconcileClient(ctx context.Context, s *scope) error {
	obj := s.obj
	switch p := obj.Spec.Provider; p {
	case "", sourcev1.BucketProviderGeneric:
	default:
		return runtime.Stallingf(meta.InvalidSpecReason,
			"spec.provider %q is not supported: gotk reads buckets through the S3 API only (provider generic, with spec.secretRef holding accesskey and secretkey); S3, GCS and Azure Blob buckets that offer an S3-compatible endpoint work with provider generic", p)
	}
	if obj.Spec.STS != nil {
		return runtime.Stallingf(sourcev1.InvalidSTSConfigurationReason, "spec.sts is not supported: put static credentials in spec.secretRef")
	}
	if obj.Spec.ServiceAccountName != "" {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.serviceAccountName is not supported with provider generic: use spec.secretRef")
	}
	ep := obj.Spec.Endpoint
	if strings.Contains(ep, "://") {
		return runtime.Stallingf(sourcev1.URLInvalidReason,
			"spec.endpoint %q: give host[:port] without a scheme; spec.insecure: true selects plain HTTP", ep)
	}
	if ep == "" || strings.ContainsAny(ep, "/ ") {
		return runtime.Stallingf(sourcev1.URLInvalidReason, "spec.endpoint %q: want host[:port]", ep)
	}
	if err := s3utils.CheckValidBucketName(obj.Spec.BucketName); err != nil {
		return runtime.Stallingf(meta.InvalidSpecReason, "spec.bucketName %q: %s", obj.Spec.BucketName, err)
	}
	creds := credentials.NewStaticV4("", "", "")
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		ak, sk := string(data[AccessKeyKey]), string(data[SecretKeyKey])
		if ak == "" || sk == "" {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.secretRef) must hold both '%s' and '%s'",
				obj.Namespace, ref.Name, AccessKeyKey, SecretKeyKey))
		}
		creds = credentials.NewStaticV4(ak, sk, "")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	if ref := obj.Spec.CertSecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		cfg, err := helm.TLSFromSecret(data)
		if err != nil {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.certSecretRef): %w", obj.Namespace, ref.Name, err))
		}
		tr.TLSClientConfig = cfg
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return failAuth(obj, err)
		}
		p, err := git.ProxyFromSecret(data)
		if err != nil {
			return failAuth(obj, fmt.Errorf("secret '%s/%s' (spec.proxySecretRef): %w", obj.Namespace, ref.Name, err))
		}
		u, _ := url.Parse(p.URL)
		if p.Username != "" {
			u.User = url.UserPassword(p.Username, p.Password)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	c, err := minio.New(ep, &minio.Options{
		Creds:     creds,
		Secure:    !obj.Spec.Insecure,
		Region:    obj.Spec.Region,
		Transport: tr,
	})
	if err != nil {
		return runtime.Stallingf(sourcev1.URLInvalidReason, "spec.endpoint %q: %s", ep, err)
	}
	s.client = c
	return nil
}

func failAuth(obj *sourcev1.Bucket, err error) error {
	runtime.MarkTrue(obj, meta.FetchFailedCondition, meta.AuthenticationFailedReason, "%s", err)
	return runtime.Failed(meta.AuthenticationFailedReason, err)
}

func (r *Reconciler) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return secret.Data, nil
}

// bucketFailed records a failure of the S3 API, as an authentication
// failure when the server refused the credentials.
func bucketFailed(obj *sourcev1.Bucket, err error) error {
	reason := sourcev1.BucketOperationFailedReason
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized ||
		resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.Code == "AccessDenied":
		reason = meta.AuthenticationFailedReason
		err = fmt.Errorf("%w: the server refused the credentials (check spec.secretRef)", err)
	}
	err = fmt.Errorf("bucket '%s' at '%s': %w", obj.Spec.BucketName, obj.Spec.Endpoint, err)
	runtime.MarkTrue(obj, meta.FetchFailedCondition, reason, "%s", err)
	return runtime.Failed(reason, err)
}

// reconcileSource lists the bucket and computes the revision.
func (r *Reconciler) reconcileSource(ctx context.Context, s *scope) error {
	obj := s.obj
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	ok, err := s.client.BucketExists(ctx, obj.Spec.BucketName)
	if err != nil {
		return bucketFailed(obj, err)
	}
	if !ok {
		err := fmt.Errorf("bucket '%s' does not exist at '%s'", obj.Spec.BucketName, obj.Spec.Endpoint)
		runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.BucketOperationFailedReason, "%s", err)
		return runtime.Failed(sourcev1.BucketOperationFailedReason, err)
	}
	filter, err := r.ignoreFilter(ctx, s)
	if err != nil {
		return err
	}
	lim := r.limits()
	var total int64
	s.objects = nil
	for info := range s.client.ListObjects(ctx, obj.Spec.BucketName, minio.ListObjectsOptions{Prefix: obj.Spec.Prefix, Recursive: true}) {
		if info.Err != nil {
			return bucketFailed(obj, info.Err)
		}
		if strings.HasSuffix(info.Key, "/") {
			continue // a folder marker holds nothing
		}
		if filter != nil && ignored(filter, info.Key) {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(info.Key)) || path.Clean(info.Key) != info.Key {
			err := fmt.Errorf("bucket '%s': object key %q is not a clean relative path: it would be written outside the artifact",
				obj.Spec.BucketName, info.Key)
			runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.BucketOperationFailedReason, "%s", err)
			return runtime.Failed(sourcev1.BucketOperationFailedReason, err)
		}
		s.objects = append(s.objects, object{Key: info.Key, ETag: info.ETag, Size: info.Size})
		total += info.Size
		if len(s.objects) > lim.MaxFiles || total > lim.MaxSize {
			err := fmt.Errorf("bucket '%s' holds more than %d objects or %d bytes below prefix '%s', the artifact limits",
				obj.Spec.BucketName, lim.MaxFiles, lim.MaxSize, obj.Spec.Prefix)
			runtime.MarkTrue(obj, meta.FetchFailedCondition, sourcev1.BucketOperationFailedReason, "%s", err)
			return runtime.Failed(sourcev1.BucketOperationFailedReason, err)
		}
	}
	s.revision = Revision(s.objects)
	runtime.Delete(obj, meta.FetchFailedCondition)
	if art := obj.Status.Artifact; art != nil && art.Revision == s.revision && r.Storage.Exists(*art) &&
		equalJSON(obj.Status.ObservedIgnore, obj.Spec.Ignore) {
		s.upToDate = true
		return nil
	}
	if art := obj.Status.Artifact; art != nil && art.Revision != s.revision {
		runtime.MarkTrue(obj, meta.ArtifactOutdatedCondition, meta.NewRevisionReason, "new upstream revision '%s'", s.revision)
	}
	return nil
}

// Revision is Flux's revision of a bucket: sha256 over the sorted lines
// "<key> <etag>\n" of its objects.
func Revision(objects []object) string {
	sorted := append([]object(nil), objects...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	h := sha256.New()
	for _, o := range sorted {
		fmt.Fprintf(h, "%s %s\n", o.Key, o.ETag)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ignoreFilter builds the ignore rules: the bucket's root .sourceignore
// object when there is one, then spec.ignore, or Flux's defaults when both
// are empty.
func (r *Reconciler) ignoreFilter(ctx context.Context, s *scope) (artifact.Filter, error) {
	obj := s.obj
	dir, err := os.MkdirTemp("", "bucket-ignore-")
	if err != nil {
		return nil, runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	defer os.RemoveAll(dir)
	o, err := s.client.GetObject(ctx, obj.Spec.BucketName, artifact.SourceIgnoreFile, minio.GetObjectOptions{})
	if err == nil {
		data, rerr := io.ReadAll(io.LimitReader(o, 1<<20))
		o.Close()
		if rerr == nil {
			if err := os.WriteFile(filepath.Join(dir, artifact.SourceIgnoreFile), data, 0o644); err != nil {
				return nil, runtime.Failed(sourcev1.DirCreationFailedReason, err)
			}
		} else if resp := minio.ToErrorResponse(rerr); resp.Code != "NoSuchKey" {
			return nil, bucketFailed(obj, rerr)
		}
	}
	filter, err := artifact.IgnoreFilter(dir, obj.Spec.Ignore)
	if err != nil {
		return nil, runtime.Stallingf(meta.InvalidSpecReason, "spec.ignore: %s", err)
	}
	return filter, nil
}

// ignored reports whether filter leaves out the object at key or one of
// the directories above it.
func ignored(filter artifact.Filter, key string) bool {
	parts := strings.Split(key, "/")
	for n := 1; n < len(parts); n++ {
		if filter(strings.Join(parts[:n], "/"), true) {
			return true
		}
	}
	return filter(key, false)
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (r *Reconciler) limits() artifact.Limits {
	l := r.Limits
	if l.MaxSize <= 0 {
		l.MaxSize = artifact.DefaultMaxSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = artifact.DefaultMaxFiles
	}
	return l
}

// reconcileArtifact downloads the listed objects and stores them.
func (r *Reconciler) reconcileArtifact(ctx context.Context, s *scope) error {
	obj := s.obj
	if s.upToDate {
		runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason,
			"stored artifact for revision '%s'", obj.Status.Artifact.Revision)
		return nil
	}
	tmp, err := os.MkdirTemp("", "bucket-")
	if err != nil {
		return runtime.Failed(sourcev1.DirCreationFailedReason, err)
	}
	s.tmp = tmp
	if err := r.download(ctx, s, tmp); err != nil {
		return bucketFailed(obj, err)
	}
	ref := artifact.RefFor(sourcev1.BucketKind, obj)
	unlock := r.Storage.Lock(ref)
	defer unlock()
	hexRev := strings.TrimPrefix(s.revision, "sha256:")
	// The file is named after the ignore rules too, so that changing them
	// never overwrites a file a consumer may be downloading.
	ignoreJSON, _ := json.Marshal(obj.Spec.Ignore)
	ignoreID := sha256.Sum256(ignoreJSON)
	art, err := r.Storage.NewArtifact(ref, s.revision, hexRev[:32]+"-"+hex.EncodeToString(ignoreID[:])[:8]+".tar.gz")
	if err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, err)
	}
	// The objects were filtered when listed; the archive takes them all.
	if err := r.Storage.ArchiveDir(&art, tmp, nil); err != nil {
		return runtime.Failed(meta.StorageOperationFailedReason, fmt.Errorf("store artifact: %w", err))
	}
	obj.Status.Artifact = &art
	obj.Status.URL = art.URL
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	runtime.Delete(obj, meta.ArtifactOutdatedCondition)
	runtime.MarkTrue(obj, meta.ArtifactInStorageCondition, meta.SucceededReason, "stored artifact for revision '%s'", art.Revision)
	if _, err := r.Storage.GarbageCollect(ref, art); err != nil {
		ctrl.Log.WithValues("bucket", obj.Namespace+"/"+obj.Name).Info("garbage collection failed", "error", err.Error())
	}
	return nil
}

// download fetches every listed object into dir, confined to it, a few at
// a time, each capped at the size it was listed with.
func (r *Reconciler) download(ctx context.Context, s *scope, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan object)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for range downloadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				if err := r.fetch(ctx, s, root, o); err != nil {
					fail(err)
				}
			}
		}()
	}
	for _, o := range s.objects {
		if ctx.Err() != nil {
			break
		}
		jobs <- o
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func (r *Reconciler) fetch(ctx context.Context, s *scope, root *os.Root, o object) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	name := filepath.FromSlash(o.Key)
	if d := filepath.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("object %q: %w", o.Key, err)
		}
	}
	obj, err := s.client.GetObject(ctx, s.obj.Spec.BucketName, o.Key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("get object %q: %w", o.Key, err)
	}
	defer obj.Close()
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("object %q: %w", o.Key, err)
	}
	n, err := io.Copy(f, io.LimitReader(obj, o.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("get object %q: %w", o.Key, err)
	}
	if n != o.Size {
		return fmt.Errorf("object %q changed while downloading: listed with %d bytes, got %d", o.Key, o.Size, n)
	}
	return nil
}
