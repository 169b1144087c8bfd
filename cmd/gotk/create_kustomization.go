package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kustomizev1 "github.com/gotk-dev/gotk/api/kustomize/v1"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

type kustomizationFlags struct {
	createFlags
	source, path, targetNamespace, serviceAccount string
	prune, wait                                   bool
	interval                                      time.Duration
	dependsOn, healthChecks, substitute           []string
}

func newCreateKustomizationCmd(c *cli) *cobra.Command {
	f := &kustomizationFlags{}
	cmd := &cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks"},
		Short:   "Create or update a Kustomization and wait until it has applied",
		Long: `Create or update a Kustomization, then wait until the kustomize controller has
applied it, and print the revision it applied.

--source names the source as [Kind/]name[.namespace]: the kind is GitRepository
unless given (OCIRepository, Bucket and ExternalArtifact are the others), and
the namespace is the Kustomization's unless given. Without -n, the Kustomization goes to the
same namespace as a source made with gotk create source git, so
--source=NAME is enough.

--health-check names objects whose health the Kustomization waits for, as
Kind/name.namespace (repeatable); --wait waits for every applied object
instead. --substitute sets post-build variables, as key=value (repeatable).`,
		Example: `  # Apply ./kustomize of the GitRepository podinfo, pruning what leaves Git
  gotk create kustomization podinfo --source=podinfo --path=./kustomize --prune

  # From the apps artifact of an ArtifactGenerator
  gotk create kustomization apps --source=ExternalArtifact/apps --path=./staging --prune

  # From a source in another namespace, into the namespace web, after "infra"
  gotk create kustomization web --source=GitRepository/apps.gotk-system --path=./web \
    --prune --target-namespace=web --depends-on=infra

  # Wait for a Deployment to be healthy, with variables for ${cluster} and ${region}
  gotk create kustomization podinfo --source=podinfo --path=./kustomize --prune \
    --health-check=Deployment/podinfo.default --substitute=cluster=prod --substitute=region=eu

  # Print the YAML instead of applying it
  gotk create kustomization podinfo --source=podinfo --path=./kustomize --prune --export`,
		Args: exactlyOneName("Kustomization"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(c, args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateKustomization(cmd.Context(), c, f, obj)
		},
	}
	f.bind(cmd, "Kustomization")
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "Source to build from, as [Kind/]name[.namespace]; Kind is GitRepository, OCIRepository, Bucket or ExternalArtifact.")
	fl.StringVar(&f.path, "path", "./", "Path in the source to build, relative to its root.")
	fl.BoolVar(&f.prune, "prune", false, "Delete the objects that leave the source (garbage collection).")
	fl.DurationVar(&f.interval, "interval", 10*time.Minute, "How often the controller applies the source again.")
	fl.StringVar(&f.targetNamespace, "target-namespace", "", "Namespace to put every namespaced object in.")
	fl.StringSliceVar(&f.dependsOn, "depends-on", nil, "Kustomizations that must be Ready first, as [namespace/]name (repeatable).")
	fl.StringVar(&f.serviceAccount, "service-account", "", "ServiceAccount to impersonate when applying.")
	fl.BoolVar(&f.wait, "wait", false, "Wait for every applied object to be healthy.")
	fl.StringSliceVar(&f.healthChecks, "health-check", nil, "Object to wait for, as Kind/name.namespace (repeatable).")
	fl.StringArrayVar(&f.substitute, "substitute", nil, "Post-build variable, as key=value (repeatable).")
	_ = cmd.RegisterFlagCompletionFunc("source", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return c.completeNames(gitRepositoryKind)(cmd, nil, toComplete)
	})
	_ = cmd.RegisterFlagCompletionFunc("depends-on", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return c.completeNames(kustomizationKind)(cmd, nil, toComplete)
	})
	cmd.ValidArgsFunction = c.completeNames(kustomizationKind)
	return cmd
}

// build turns the flags into a Kustomization.
func (f *kustomizationFlags) build(c *cli, name, namespace string) (*kustomizev1.Kustomization, error) {
	if f.source == "" {
		return nil, errors.New("--source is required: the source to build, such as --source=podinfo or --source=GitRepository/podinfo.gotk-system")
	}
	src, err := parseSourceRef(f.source)
	if err != nil {
		return nil, err
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 10m")
	}
	p, err := cleanSourcePath(f.path)
	if err != nil {
		return nil, err
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:          src,
			Path:               p,
			Prune:              f.prune,
			Interval:           metav1.Duration{Duration: f.interval},
			TargetNamespace:    f.targetNamespace,
			ServiceAccountName: f.serviceAccount,
			Wait:               f.wait,
		},
	}
	if f.targetNamespace != "" {
		if errs := validation.IsDNS1123Label(f.targetNamespace); len(errs) > 0 {
			return nil, fmt.Errorf("--target-namespace %q: %s", f.targetNamespace, strings.Join(errs, "; "))
		}
	}
	for _, d := range f.dependsOn {
		ns, n, found := strings.Cut(d, "/")
		if !found {
			ns, n = "", d
		}
		if n == "" || validateName("Kustomization", n) != nil || (ns != "" && len(validation.IsDNS1123Label(ns)) > 0) {
			return nil, fmt.Errorf("--depends-on %q: use [namespace/]name of a Kustomization", d)
		}
		obj.Spec.DependsOn = append(obj.Spec.DependsOn, meta.DependencyReference{Name: n, Namespace: ns})
	}
	for _, h := range f.healthChecks {
		ref, err := c.parseHealthCheck(h, namespace)
		if err != nil {
			return nil, err
		}
		obj.Spec.HealthChecks = append(obj.Spec.HealthChecks, ref)
	}
	if len(f.substitute) > 0 {
		vars := map[string]string{}
		for _, s := range f.substitute {
			k, v, ok := strings.Cut(s, "=")
			if !ok || !substituteName.MatchString(k) {
				return nil, fmt.Errorf("--substitute %q: use key=value, with a key of letters, digits and underscores that does not start with a digit", s)
			}
			vars[k] = v
		}
		obj.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: vars}
	}
	return obj, nil
}

// cleanSourcePath checks --path: relative, inside the source.
func cleanSourcePath(p string) (string, error) {
	if p == "" {
		return "./", nil
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("--path %q must be relative to the source's root, such as ./deploy", p)
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("--path %q leaves the source's root", p)
	}
	return p, nil
}

// parseSourceRef reads --source: [Kind/]name[.namespace].
func parseSourceRef(s string) (kustomizev1.CrossNamespaceSourceReference, error) {
	kind := sourcev1.GitRepositoryKind
	rest := s
	if k, r, found := strings.Cut(s, "/"); found {
		gk, ok := lookupKind(k)
		if !ok || (gk.Kind() != sourcev1.GitRepositoryKind && gk.Kind() != sourcev1.OCIRepositoryKind && gk.Kind() != sourcev1.BucketKind &&
			gk.Kind() != sourcev1.ExternalArtifactKind) {
			return kustomizev1.CrossNamespaceSourceReference{}, fmt.Errorf("--source %q: kind %q cannot be built by a Kustomization: use GitRepository, OCIRepository, Bucket or ExternalArtifact", s, k)
		}
		kind, rest = gk.Kind(), r
	}
	name, ns := splitNameNamespace(rest)
	if name == "" || validateName(kind, name) != nil || (ns != "" && len(validation.IsDNS1123Label(ns)) > 0) {
		return kustomizev1.CrossNamespaceSourceReference{}, fmt.Errorf("--source %q: use [Kind/]name[.namespace], such as podinfo or GitRepository/podinfo.gotk-system", s)
	}
	return kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: name, Namespace: ns}, nil
}

// splitNameNamespace splits "name.namespace" at its last dot: names may
// hold dots, namespaces may not.
func splitNameNamespace(s string) (name, namespace string) {
	if i := strings.LastIndex(s, "."); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// wellKnownKinds gives the apiVersion of the kinds health checks usually
// name, so that --export works without a cluster.
var wellKnownKinds = map[string]string{
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
	"Job": "batch/v1", "CronJob": "batch/v1",
	"Service": "v1", "ConfigMap": "v1", "Secret": "v1", "Pod": "v1", "PersistentVolumeClaim": "v1", "Namespace": "v1", "ServiceAccount": "v1",
	"Ingress":                  "networking.k8s.io/v1",
	"CustomResourceDefinition": "apiextensions.k8s.io/v1",
}

// parseHealthCheck reads --health-check: Kind/name[.namespace], with the
// Kustomization's namespace when none is given.
func (c *cli) parseHealthCheck(s, namespace string) (meta.NamespacedObjectKindReference, error) {
	kind, rest, found := strings.Cut(s, "/")
	name, ns := splitNameNamespace(rest)
	if !found || kind == "" || name == "" {
		return meta.NamespacedObjectKindReference{}, fmt.Errorf("--health-check %q: use Kind/name.namespace, such as Deployment/podinfo.default", s)
	}
	if ns == "" {
		ns = namespace
	}
	apiVersion, kind, err := c.apiVersionOf(kind)
	if err != nil {
		return meta.NamespacedObjectKindReference{}, fmt.Errorf("--health-check %q: %w", s, err)
	}
	return meta.NamespacedObjectKindReference{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: ns}, nil
}

// apiVersionOf finds the apiVersion of a kind, and the kind's spelling: a
// gotk kind, a well-known one, or one the cluster serves.
func (c *cli) apiVersionOf(kind string) (apiVersion, canonical string, err error) {
	if k, ok := lookupKind(kind); ok {
		return k.GVK.GroupVersion().String(), k.Kind(), nil
	}
	for k, v := range wellKnownKinds {
		if strings.EqualFold(k, kind) {
			return v, k, nil
		}
	}
	mapper, err := c.kube.ToRESTMapper()
	if err != nil {
		return "", "", fmt.Errorf("cannot tell the apiVersion of kind %s without a cluster: %w", kind, err)
	}
	gvk, err := mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(kind)})
	if err != nil {
		return "", "", fmt.Errorf("the cluster serves no kind %s", kind)
	}
	return gvk.GroupVersion().String(), gvk.Kind, nil
}

func runCreateKustomization(ctx context.Context, c *cli, f *kustomizationFlags, obj *kustomizev1.Kustomization) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	// A missing source is not an error (it may come next), but say so.
	srcNS := obj.GetSourceNamespace()
	if sk, ok := lookupKind(obj.Spec.SourceRef.Kind); ok {
		src := newObject(sk)
		if err := cl.Get(ctx, client.ObjectKey{Namespace: srcNS, Name: obj.Spec.SourceRef.Name}, src); err != nil {
			c.status.warn("source %s %s/%s not found: the Kustomization waits for it", sk.Kind(), srcNS, obj.Spec.SourceRef.Name)
		}
	}
	c.status.step("applying Kustomization %s", key)
	created, err := applyTyped(ctx, cl, obj)
	if err != nil {
		return err
	}
	c.status.ok("Kustomization %s %s", key, createdOrConfigured(created))
	u, err := c.waitFor(ctx, cl, kustomizationKind, key, waitOptions{timeout: f.timeout})
	if err != nil {
		return err
	}
	c.status.ok("applied revision %s", kustomizationKind.Revision(u))
	return nil
}
