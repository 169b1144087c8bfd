package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	"github.com/gotk-dev/gotk/internal/oci"
)

var (
	ociRepositoryKind = mustKind(sourcev1.OCIRepositoryKind)
	bucketKind        = mustKind(sourcev1.BucketKind)
)

type sourceOCIFlags struct {
	createFlags
	url, tag, semver, semverFilter, digest   string
	secretRef, certSecretRef, proxySecretRef string
	layerMediaType, layerOperation           string
	interval, fetchTimeout                   time.Duration
	ignorePaths                              []string
	insecure                                 bool
}

func newCreateSourceOCICmd(c *cli) *cobra.Command {
	f := &sourceOCIFlags{}
	cmd := &cobra.Command{
		Use:   "oci NAME",
		Short: "Create or update an OCIRepository and wait until it has pulled",
		Long: `Create or update an OCIRepository, then wait until the source controller has
pulled the artifact the reference selects and stored it, and print its
revision (<tag>@sha256:<digest>, or the digest alone for --digest).

One reference is needed: --tag, --tag-semver (with --semver-filter to
narrow the tags considered) or --digest. Registry credentials come from a
kubernetes.io/dockerconfigjson Secret named with --secret-ref
(kubectl create secret docker-registry).`,
		Example: `  # Follow a tag of an artifact pushed with gotk push artifact or flux push artifact
  gotk create source oci podinfo --url=oci://ghcr.io/stefanprodan/manifests/podinfo --tag=latest

  # The newest release in a range
  gotk create source oci podinfo --url=oci://ghcr.io/stefanprodan/manifests/podinfo --tag-semver=">=6.0.0 <7.0.0"

  # A private registry
  gotk create source oci app --url=oci://registry.example.com/org/app --tag=v1 --secret-ref=regcred`,
		Args: exactlyOneName("OCIRepository"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			_, err = applySourceAndWait(cmd.Context(), c, cl, ociRepositoryKind, obj, f.timeout, true)
			return err
		},
	}
	f.bind(cmd, "OCIRepository")
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "URL of the repository: oci://<host>/<path>, without tag.")
	fl.StringVar(&f.tag, "tag", "", "Tag to pull.")
	fl.StringVar(&f.semver, "tag-semver", "", "Semver range: the highest tag in it is pulled.")
	fl.StringVar(&f.semverFilter, "semver-filter", "", "Regular expression the tags must match to be considered by --tag-semver.")
	fl.StringVar(&f.digest, "digest", "", "Manifest digest to pull, sha256:<hex>.")
	fl.StringVar(&f.secretRef, "secret-ref", "", "kubernetes.io/dockerconfigjson Secret with the registry credentials.")
	fl.StringVar(&f.certSecretRef, "cert-secret-ref", "", "Secret with ca.crt (and tls.crt, tls.key) for the registry's TLS.")
	fl.StringVar(&f.proxySecretRef, "proxy-secret-ref", "", "Secret with the proxy's address (and username, password).")
	fl.StringVar(&f.layerMediaType, "layer-media-type", "", "Media type of the layer to take (default: the first layer).")
	fl.StringVar(&f.layerOperation, "layer-operation", "", "What to do with the layer: extract (the default) or copy.")
	fl.BoolVar(&f.insecure, "insecure", false, "Speak plain HTTP to the registry.")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the controller checks the registry.")
	fl.DurationVar(&f.fetchTimeout, "fetch-timeout", 0, "Timeout of registry operations (spec.timeout); the controller's default is 60s.")
	fl.StringSliceVar(&f.ignorePaths, "ignore-paths", nil, "Paths to leave out of the artifact, in .gitignore syntax (comma-separated; becomes spec.ignore).")
	cmd.ValidArgsFunction = c.completeNames(ociRepositoryKind)
	return cmd
}

func (f *sourceOCIFlags) build(name, namespace string) (*sourcev1.OCIRepository, error) {
	if f.url == "" {
		return nil, errors.New("--url is required: the oci://<host>/<path> of the artifact's repository")
	}
	if _, tag, dgst, err := oci.SplitURL(f.url); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	} else if tag != "" || dgst != "" {
		return nil, fmt.Errorf("--url %q names a tag or digest: give the repository alone and use --tag, --tag-semver or --digest", f.url)
	}
	n := 0
	for _, v := range []string{f.tag, f.semver, f.digest} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("use exactly one of --tag, --tag-semver or --digest")
	}
	if f.semverFilter != "" && f.semver == "" {
		return nil, errors.New("--semver-filter goes with --tag-semver")
	}
	switch f.layerOperation {
	case "", sourcev1.OCILayerExtract, sourcev1.OCILayerCopy:
	default:
		return nil, fmt.Errorf("--layer-operation %q: use extract or copy", f.layerOperation)
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 1m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &sourcev1.OCIRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       f.url,
			Interval:  metav1.Duration{Duration: f.interval},
			Reference: &sourcev1.OCIRepositoryRef{Tag: f.tag, SemVer: f.semver, SemverFilter: f.semverFilter, Digest: f.digest},
			Insecure:  f.insecure,
		},
	}
	if f.layerMediaType != "" || f.layerOperation != "" {
		obj.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: f.layerMediaType, Operation: f.layerOperation}
	}
	if f.fetchTimeout > 0 {
		obj.Spec.Timeout = &metav1.Duration{Duration: f.fetchTimeout}
	}
	obj.Spec.SecretRef = localRef(f.secretRef)
	obj.Spec.CertSecretRef = localRef(f.certSecretRef)
	obj.Spec.ProxySecretRef = localRef(f.proxySecretRef)
	if ignore := ignoreLines(f.ignorePaths); ignore != "" {
		obj.Spec.Ignore = &ignore
	}
	return obj, nil
}

func localRef(name string) *meta.LocalObjectReference {
	if name == "" {
		return nil
	}
	return &meta.LocalObjectReference{Name: name}
}

type sourceBucketFlags struct {
	createFlags
	provider, endpoint, bucketName, prefix, region string
	secretRef, certSecretRef, proxySecretRef       string
	interval, fetchTimeout                         time.Duration
	ignorePaths                                    []string
	insecure                                       bool
}

func newCreateSourceBucketCmd(c *cli) *cobra.Command {
	f := &sourceBucketFlags{}
	cmd := &cobra.Command{
		Use:   "bucket NAME",
		Short: "Create or update a Bucket and wait until it has fetched",
		Long: `Create or update a Bucket, then wait until the source controller has listed
and downloaded the objects below --prefix and stored them, and print the
revision (sha256 over the object keys and ETags).

The provider is generic: any server with the S3 API. Credentials come from a
Secret named with --secret-ref holding accesskey and secretkey.`,
		Example: `  # A bucket on an S3-compatible server, over HTTPS
  kubectl create secret generic s3-creds --from-literal=accesskey=AKID --from-literal=secretkey=SECRET
  gotk create source bucket manifests --endpoint=s3.example.com --bucket-name=manifests --secret-ref=s3-creds

  # Plain HTTP, only the objects below apps/
  gotk create source bucket apps --endpoint=minio.local:9000 --insecure --bucket-name=manifests --prefix=apps/`,
		Args: exactlyOneName("Bucket"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			_, err = applySourceAndWait(cmd.Context(), c, cl, bucketKind, obj, f.timeout, true)
			return err
		},
	}
	f.bind(cmd, "Bucket")
	fl := cmd.Flags()
	fl.StringVar(&f.provider, "provider", sourcev1.BucketProviderGeneric, "Provider: generic (any S3 API); aws, gcp and azure are not supported yet.")
	fl.StringVar(&f.endpoint, "endpoint", "", "host[:port] of the S3 API, without scheme.")
	fl.StringVar(&f.bucketName, "bucket-name", "", "Name of the bucket.")
	fl.StringVar(&f.prefix, "prefix", "", "Only the objects whose keys start with this.")
	fl.StringVar(&f.region, "region", "", "Region of the bucket.")
	fl.StringVar(&f.secretRef, "secret-ref", "", "Secret with accesskey and secretkey.")
	fl.StringVar(&f.certSecretRef, "cert-secret-ref", "", "Secret with ca.crt (and tls.crt, tls.key) for the server's TLS.")
	fl.StringVar(&f.proxySecretRef, "proxy-secret-ref", "", "Secret with the proxy's address (and username, password).")
	fl.BoolVar(&f.insecure, "insecure", false, "Speak plain HTTP to the endpoint.")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the controller lists the bucket.")
	fl.DurationVar(&f.fetchTimeout, "fetch-timeout", 0, "Timeout of the listing and downloads (spec.timeout); the controller's default is 60s.")
	fl.StringSliceVar(&f.ignorePaths, "ignore-paths", nil, "Keys to leave out, in .gitignore syntax (comma-separated; becomes spec.ignore).")
	cmd.ValidArgsFunction = c.completeNames(bucketKind)
	return cmd
}

func (f *sourceBucketFlags) build(name, namespace string) (*sourcev1.Bucket, error) {
	if f.endpoint == "" {
		return nil, errors.New("--endpoint is required: host[:port] of the S3 API")
	}
	if strings.Contains(f.endpoint, "://") {
		return nil, fmt.Errorf("--endpoint %q: give host[:port] without a scheme; --insecure selects plain HTTP", f.endpoint)
	}
	if f.bucketName == "" {
		return nil, errors.New("--bucket-name is required")
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 1m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &sourcev1.Bucket{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.BucketKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: sourcev1.BucketSpec{
			Provider:   f.provider,
			Endpoint:   f.endpoint,
			BucketName: f.bucketName,
			Prefix:     f.prefix,
			Region:     f.region,
			Insecure:   f.insecure,
			Interval:   metav1.Duration{Duration: f.interval},
		},
	}
	if f.fetchTimeout > 0 {
		obj.Spec.Timeout = &metav1.Duration{Duration: f.fetchTimeout}
	}
	obj.Spec.SecretRef = localRef(f.secretRef)
	obj.Spec.CertSecretRef = localRef(f.certSecretRef)
	obj.Spec.ProxySecretRef = localRef(f.proxySecretRef)
	if ignore := ignoreLines(f.ignorePaths); ignore != "" {
		obj.Spec.Ignore = &ignore
	}
	return obj, nil
}
