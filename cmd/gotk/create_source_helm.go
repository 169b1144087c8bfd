package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

// The Helm kinds the create, get, reconcile, suspend, resume, delete and
// export commands handle.
var (
	helmRepositoryKind = mustKind(sourcev1.HelmRepositoryKind)
	helmChartKind      = mustKind(sourcev1.HelmChartKind)
)

type sourceHelmFlags struct {
	createFlags
	url, secretRef, certSecretRef string
	passCredentials, insecure     bool
	interval, fetchTimeout        time.Duration
}

func newCreateSourceHelmCmd(c *cli) *cobra.Command {
	f := &sourceHelmFlags{}
	cmd := &cobra.Command{
		Use:   "helm NAME",
		Short: "Create or update a HelmRepository and wait until it is Ready",
		Long: `Create or update a HelmRepository, then wait until the source controller has
fetched its index and stored it as an artifact, and print its revision.

An oci:// URL makes a repository of type oci: it has no index, so the
controller only checks that the registry answers with the credentials given,
and create waits for that. --insecure lets it speak plain HTTP to the
registry.

Credentials (username and password) come from a Secret named with
--secret-ref; TLS material (ca.crt, tls.crt and tls.key) from one named with
--cert-secret-ref. Make either with gotk create secret helm.`,
		Example: `  # A public chart repository
  gotk create source helm podinfo --url=https://stefanprodan.github.io/podinfo

  # A private one, with basic auth and a private CA
  gotk create secret helm charts-auth --username=bot --password="$TOKEN" --ca-file=./ca.crt
  gotk create source helm charts --url=https://charts.example.com \
    --secret-ref=charts-auth --cert-secret-ref=charts-auth

  # Charts in an OCI registry
  gotk create source helm podinfo --url=oci://ghcr.io/stefanprodan/charts

  # A chart directory of a GitRepository, rebuilt on every commit
  gotk create source chart app --source=GitRepository/apps --chart=./charts/app --reconcile-strategy=Revision

  # Print the YAML instead of applying it
  gotk create source helm podinfo --url=https://stefanprodan.github.io/podinfo --export`,
		Args: exactlyOneName(sourcev1.HelmRepositoryKind),
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
			_, err = applySourceAndWait(cmd.Context(), c, cl, helmRepositoryKind, obj, f.timeout, !obj.IsOCI())
			if err == nil && obj.IsOCI() {
				c.status.ok("registry %s answered", obj.Spec.URL)
			}
			return err
		},
	}
	f.bind(cmd, sourcev1.HelmRepositoryKind)
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "URL of the repository: https:// or http:// for an index repository, oci:// for a registry.")
	fl.StringVar(&f.secretRef, "secret-ref", "", "Secret with the username and password (see gotk create secret helm).")
	fl.StringVar(&f.certSecretRef, "cert-secret-ref", "", "Secret with ca.crt, and tls.crt and tls.key for a client certificate (see gotk create secret helm).")
	fl.BoolVar(&f.passCredentials, "pass-credentials", false, "Send the credentials also to hosts other than the one in --url, when the index points charts there.")
	fl.BoolVar(&f.insecure, "insecure", false, "Speak plain HTTP to the registry (oci:// URLs only).")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the controller downloads the index.")
	fl.DurationVar(&f.fetchTimeout, "fetch-timeout", 0, "Timeout of the index download (spec.timeout); the controller's default is 60s.")
	cmd.ValidArgsFunction = c.completeNames(helmRepositoryKind)
	return cmd
}

// build turns the flags into a HelmRepository.
func (f *sourceHelmFlags) build(name, namespace string) (*sourcev1.HelmRepository, error) {
	if f.url == "" {
		return nil, errors.New("--url is required: the address of the Helm repository")
	}
	u, err := parseURLFlag(f.url, "https://charts.example.com or oci://ghcr.io/org/charts", "helm", "https", "http", "oci")
	if err != nil {
		return nil, err
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 1m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &sourcev1.HelmRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: sourcev1.HelmRepositorySpec{
			URL:             f.url,
			Interval:        metav1.Duration{Duration: f.interval},
			PassCredentials: f.passCredentials,
		},
	}
	if u.Scheme == "oci" {
		obj.Spec.Type = sourcev1.HelmRepositoryTypeOCI
		obj.Spec.Insecure = f.insecure
	} else if f.insecure {
		return nil, fmt.Errorf("--insecure is for oci:// URLs: an index repository such as %q speaks plain HTTP when its URL is http://", f.url)
	}
	if f.fetchTimeout > 0 {
		obj.Spec.Timeout = &metav1.Duration{Duration: f.fetchTimeout}
	}
	if f.secretRef != "" {
		obj.Spec.SecretRef = &meta.LocalObjectReference{Name: f.secretRef}
	}
	if f.certSecretRef != "" {
		obj.Spec.CertSecretRef = &meta.LocalObjectReference{Name: f.certSecretRef}
	}
	return obj, nil
}

type sourceChartFlags struct {
	createFlags
	source, chart, version, strategy string
	valuesFiles                      []string
	interval                         time.Duration
}

// chartSourceKinds are the kinds a HelmChart's spec.sourceRef may name.
var chartSourceKinds = []string{sourcev1.HelmRepositoryKind, sourcev1.GitRepositoryKind, sourcev1.BucketKind}

func newCreateSourceChartCmd(c *cli) *cobra.Command {
	f := &sourceChartFlags{}
	cmd := &cobra.Command{
		Use:   "chart NAME",
		Short: "Create or update a HelmChart and wait until it has been pulled",
		Long: `Create or update a HelmChart, then wait until the source controller has pulled
the chart and stored it as an artifact, and print its revision (the chart
version).

--source names the source as Kind/name, in the HelmChart's namespace: a
HelmRepository, a GitRepository or a Bucket. --chart is the chart's name in a
HelmRepository, or the path of the chart directory in a GitRepository or
Bucket. --chart-version is a semver range (the default, *, is the newest).
--values-files lists values files merged, in order, into the packaged chart's
values.yaml (paths in the chart, or from the root of a GitRepository or
Bucket). --reconcile-strategy=Revision makes every new revision of a Git or
Bucket source a new artifact, versioned <chart version>+<12 chars of the
revision>.`,
		Example: `  # The newest 6.x of podinfo from a HelmRepository
  gotk create source helm podinfo --url=https://stefanprodan.github.io/podinfo
  gotk create source chart podinfo --source=HelmRepository/podinfo --chart=podinfo --chart-version="6.x"

  # With values files merged into the chart's values.yaml
  gotk create source chart podinfo --source=HelmRepository/podinfo --chart=podinfo \
    --values-files=values.yaml,values-prod.yaml

  # A chart directory of a GitRepository, rebuilt on every commit
  gotk create source chart app --source=GitRepository/apps --chart=./charts/app --reconcile-strategy=Revision

  # Print the YAML instead of applying it
  gotk create source chart podinfo --source=HelmRepository/podinfo --chart=podinfo --export`,
		Args: exactlyOneName(sourcev1.HelmChartKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateSourceChart(cmd.Context(), c, f, obj)
		},
	}
	f.bind(cmd, sourcev1.HelmChartKind)
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "Source of the chart, as Kind/name: HelmRepository, GitRepository or Bucket.")
	fl.StringVar(&f.chart, "chart", "", "Name of the chart in a HelmRepository, or path of the chart in a GitRepository or Bucket.")
	fl.StringVar(&f.version, "chart-version", "", "Semver range of the chart version, such as 6.x (the default, *, is the newest).")
	fl.StringSliceVar(&f.valuesFiles, "values-files", nil, "Values files to merge into the chart's values.yaml, in order (comma-separated).")
	fl.DurationVar(&f.interval, "interval", time.Minute, "How often the controller checks the source for a new chart version.")
	fl.StringVar(&f.strategy, "reconcile-strategy", "", "What makes a new artifact: ChartVersion (the default) or Revision (also a new revision of a Git or Bucket source).")
	_ = cmd.RegisterFlagCompletionFunc("reconcile-strategy", cobra.FixedCompletions(
		[]string{sourcev1.ReconcileStrategyChartVersion, sourcev1.ReconcileStrategyRevision}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("source", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, kind := range chartSourceKinds {
			k, ok := lookupKind(kind)
			if !ok {
				continue
			}
			// A kind the cluster does not serve offers nothing.
			names, _ := c.completeNames(k)(cmd, nil, "")
			for _, n := range names {
				if s := kind + "/" + n; strings.HasPrefix(s, toComplete) {
					out = append(out, s)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.ValidArgsFunction = c.completeNames(helmChartKind)
	return cmd
}

// build turns the flags into a HelmChart.
func (f *sourceChartFlags) build(name, namespace string) (*sourcev1.HelmChart, error) {
	if f.source == "" {
		return nil, errors.New("--source is required: the source of the chart, such as --source=HelmRepository/podinfo")
	}
	ref, err := parseChartSource(f.source)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(f.chart) == "" {
		return nil, errors.New("--chart is required: the name of the chart in the HelmRepository, or its path in a GitRepository or Bucket")
	}
	switch f.strategy {
	case "", sourcev1.ReconcileStrategyChartVersion, sourcev1.ReconcileStrategyRevision:
	default:
		return nil, fmt.Errorf("--reconcile-strategy %q is not supported: use ChartVersion or Revision", f.strategy)
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 1m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &sourcev1.HelmChart{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmChartKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: sourcev1.HelmChartSpec{
			Chart:             f.chart,
			Version:           f.version,
			SourceRef:         ref,
			Interval:          metav1.Duration{Duration: f.interval},
			ReconcileStrategy: f.strategy,
		},
	}
	for _, v := range f.valuesFiles {
		if v = strings.TrimSpace(v); v != "" {
			obj.Spec.ValuesFiles = append(obj.Spec.ValuesFiles, v)
		}
	}
	return obj, nil
}

// parseChartSource reads --source of a chart: Kind/name.
func parseChartSource(s string) (sourcev1.LocalHelmChartSourceReference, error) {
	k, name, found := strings.Cut(s, "/")
	if !found {
		return sourcev1.LocalHelmChartSourceReference{}, fmt.Errorf("--source %q: use Kind/name, such as HelmRepository/podinfo", s)
	}
	gk, ok := lookupKind(k)
	if !ok || !slices.Contains(chartSourceKinds, gk.Kind()) {
		return sourcev1.LocalHelmChartSourceReference{}, fmt.Errorf("--source %q: kind %q cannot hold a chart: use HelmRepository, GitRepository or Bucket", s, k)
	}
	if err := validateName(gk.Kind(), name); err != nil {
		return sourcev1.LocalHelmChartSourceReference{}, fmt.Errorf("--source %q: %w", s, err)
	}
	return sourcev1.LocalHelmChartSourceReference{Kind: gk.Kind(), Name: name}, nil
}

func runCreateSourceChart(ctx context.Context, c *cli, f *sourceChartFlags, obj *sourcev1.HelmChart) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	// A missing source is not an error (it may come next), but say so.
	ref := obj.Spec.SourceRef
	if sk, ok := lookupKind(ref.Kind); ok {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, newObject(sk)); err != nil {
			c.status.warn("source %s %s/%s not found: the HelmChart waits for it", sk.Kind(), obj.Namespace, ref.Name)
		}
	}
	_, err = applySourceAndWait(ctx, c, cl, helmChartKind, obj, f.timeout, true)
	return err
}
