package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

type helmReleaseFlags struct {
	createFlags
	source, chart, chartVersion, targetNamespace, serviceAccount, releaseName string
	valuesFiles, valuesFrom, dependsOn                                        []string
	createNamespace                                                           bool
	interval                                                                  time.Duration
}

func newCreateHelmReleaseCmd(c *cli) *cobra.Command {
	f := &helmReleaseFlags{}
	cmd := &cobra.Command{
		Use:     "helmrelease NAME",
		Aliases: []string{"hr"},
		Short:   "Create or update a HelmRelease and wait until its release is installed",
		Long: `Create or update a HelmRelease, then wait until the helm controller has
installed or upgraded its release, and print the chart version.

--source names where the chart comes from, as Kind/name[.namespace]: a
HelmRepository (--chart is the chart's name in its index) or a GitRepository
(--chart is the chart's path in the repository). --chart-version is a SemVer
range for charts from a HelmRepository.

--values reads a values file (repeatable; later files win), which becomes
spec.values. --values-from names a ConfigMap or Secret of the HelmRelease's
namespace as Kind/name (repeatable), read under the key values.yaml; a change to
it upgrades the release.`,
		Example: `  # podinfo from a HelmRepository, newest 6.x
  gotk create helmrelease podinfo --source=HelmRepository/podinfo --chart=podinfo --chart-version="6.x"

  # Into its own namespace, created if needed, with values from a file and a Secret
  gotk create hr podinfo --source=HelmRepository/podinfo.gotk-system --chart=podinfo \
    --target-namespace=web --create-target-namespace \
    --values=./values.yaml --values-from=Secret/podinfo-values

  # A chart from a path of a GitRepository, after the HelmRelease "infra"
  gotk create hr app --source=GitRepository/apps --chart=./charts/app --depends-on=infra

  # Print the YAML instead of applying it
  gotk create hr podinfo --source=HelmRepository/podinfo --chart=podinfo --export`,
		Args: exactlyOneName(helmv2.HelmReleaseKind),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateHelmRelease(cmd.Context(), c, f, obj)
		},
	}
	f.bind(cmd, "HelmRelease")
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "Source of the chart, as Kind/name[.namespace]; Kind is HelmRepository or GitRepository.")
	fl.StringVar(&f.chart, "chart", "", "Chart name in a HelmRepository, or chart path in a GitRepository.")
	fl.StringVar(&f.chartVersion, "chart-version", "", "SemVer range of the chart version, such as 6.x (HelmRepository only); newest when empty.")
	fl.StringSliceVar(&f.valuesFiles, "values", nil, "Local values file to put in spec.values (repeatable; later files win).")
	fl.StringSliceVar(&f.valuesFrom, "values-from", nil, "ConfigMap or Secret with values under values.yaml, as Kind/name (repeatable).")
	fl.StringVar(&f.targetNamespace, "target-namespace", "", "Namespace to install the release in; the HelmRelease's when empty.")
	fl.BoolVar(&f.createNamespace, "create-target-namespace", false, "Create the target namespace if it does not exist.")
	fl.StringSliceVar(&f.dependsOn, "depends-on", nil, "HelmReleases that must be Ready first, as [namespace/]name (repeatable).")
	fl.StringVar(&f.serviceAccount, "service-account", "", "ServiceAccount to impersonate for the Helm actions.")
	fl.StringVar(&f.releaseName, "release-name", "", "Name of the Helm release; [<target-namespace>-]<name> when empty.")
	fl.DurationVar(&f.interval, "interval", 10*time.Minute, "How often the controller reconciles the release.")
	cmd.ValidArgsFunction = c.completeNames(helmReleaseKind)
	return cmd
}

// build turns the flags into a HelmRelease.
func (f *helmReleaseFlags) build(name, namespace string) (*helmv2.HelmRelease, error) {
	if f.source == "" {
		return nil, errors.New("--source is required, such as --source=HelmRepository/podinfo")
	}
	if f.chart == "" {
		return nil, errors.New("--chart is required: the chart's name in the HelmRepository, or its path in the GitRepository")
	}
	kind, rest, ok := strings.Cut(f.source, "/")
	sk, known := lookupKind(kind)
	if !ok || !known || (sk.Kind() != sourcev1.HelmRepositoryKind && sk.Kind() != sourcev1.GitRepositoryKind && sk.Kind() != sourcev1.BucketKind) {
		return nil, fmt.Errorf("--source %q: use Kind/name[.namespace] with Kind HelmRepository, GitRepository or Bucket", f.source)
	}
	srcName, srcNS := splitNameNamespace(rest)
	if srcName == "" || validateName(sk.Kind(), srcName) != nil || (srcNS != "" && len(validation.IsDNS1123Label(srcNS)) > 0) {
		return nil, fmt.Errorf("--source %q: use Kind/name[.namespace], such as HelmRepository/podinfo.gotk-system", f.source)
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 10m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: f.interval},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart:     f.chart,
				Version:   f.chartVersion,
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sk.Kind(), Name: srcName, Namespace: srcNS},
			}},
			TargetNamespace:    f.targetNamespace,
			ServiceAccountName: f.serviceAccount,
			ReleaseName:        f.releaseName,
		},
	}
	if f.targetNamespace != "" {
		if errs := validation.IsDNS1123Label(f.targetNamespace); len(errs) > 0 {
			return nil, fmt.Errorf("--target-namespace %q: %s", f.targetNamespace, strings.Join(errs, "; "))
		}
	}
	if f.createNamespace {
		obj.Spec.Install = &helmv2.Install{CreateNamespace: true}
	}
	if f.releaseName != "" && len(f.releaseName) > helmv2.MaxReleaseNameLength {
		return nil, fmt.Errorf("--release-name %q is longer than %d characters", f.releaseName, helmv2.MaxReleaseNameLength)
	}
	for _, d := range f.dependsOn {
		ns, n, found := strings.Cut(d, "/")
		if !found {
			ns, n = "", d
		}
		if n == "" || validateName("HelmRelease", n) != nil || (ns != "" && len(validation.IsDNS1123Label(ns)) > 0) {
			return nil, fmt.Errorf("--depends-on %q: use [namespace/]name of a HelmRelease", d)
		}
		obj.Spec.DependsOn = append(obj.Spec.DependsOn, meta.DependencyReference{Name: n, Namespace: ns})
	}
	for _, v := range f.valuesFrom {
		k, n, ok := strings.Cut(v, "/")
		switch {
		case ok && strings.EqualFold(k, "Secret"):
			k = "Secret"
		case ok && strings.EqualFold(k, "ConfigMap"):
			k = "ConfigMap"
		default:
			return nil, fmt.Errorf("--values-from %q: use Secret/name or ConfigMap/name", v)
		}
		if validateName(k, n) != nil {
			return nil, fmt.Errorf("--values-from %q: %q is not a valid name", v, n)
		}
		obj.Spec.ValuesFrom = append(obj.Spec.ValuesFrom, helmv2.ValuesReference{Kind: k, Name: n})
	}
	if len(f.valuesFiles) > 0 {
		values := map[string]any{}
		for _, file := range f.valuesFiles {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("--values %s: %w", file, err)
			}
			var v map[string]any
			if err := yaml.Unmarshal(data, &v); err != nil {
				return nil, fmt.Errorf("--values %s: not a YAML map of values: %w", file, err)
			}
			values = mergeValues(values, v)
		}
		raw, err := json.Marshal(values)
		if err != nil {
			return nil, err
		}
		obj.Spec.Values = &meta.JSON{Raw: raw}
	}
	return obj, nil
}

// mergeValues merges b over a, recursing into maps both have.
func mergeValues(a, b map[string]any) map[string]any {
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := a[k].(map[string]any); ok {
				a[k] = mergeValues(am, bm)
				continue
			}
		}
		a[k] = v
	}
	return a
}

func runCreateHelmRelease(ctx context.Context, c *cli, f *helmReleaseFlags, obj *helmv2.HelmRelease) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	ref := obj.Spec.Chart.Spec.SourceRef
	srcNS := obj.Spec.Chart.GetNamespace(obj.Namespace)
	if sk, ok := lookupKind(ref.Kind); ok {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: srcNS, Name: ref.Name}, newObject(sk)); err != nil {
			c.status.warn("source %s %s/%s not found: the HelmRelease waits for it", sk.Kind(), srcNS, ref.Name)
		}
	}
	c.status.step("applying HelmRelease %s", key)
	created, err := applyTyped(ctx, cl, obj)
	if err != nil {
		return err
	}
	c.status.ok("HelmRelease %s %s", key, createdOrConfigured(created))
	u, err := c.waitFor(ctx, cl, helmReleaseKind, key, waitOptions{timeout: f.timeout})
	if err != nil {
		return err
	}
	c.status.ok("released chart version %s", helmReleaseKind.Revision(u))
	return nil
}
