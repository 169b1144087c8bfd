package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/internal/install"
)

// createFlags are the flags every create command shares.
type createFlags struct {
	export  bool
	timeout time.Duration
	labels  []string
}

func (f *createFlags) bind(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&f.export, "export", false, "Print the "+what+" as YAML instead of applying it.")
	cmd.Flags().DurationVar(&f.timeout, "timeout", defaultWaitTimeout, "How long to wait for the "+what+" to be Ready.")
	cmd.Flags().StringSliceVar(&f.labels, "label", nil, "Labels to set, as key=value (repeat the flag or separate with commas).")
}

// parseLabels reads --label values.
func (f *createFlags) parseLabels() (map[string]string, error) { return parseLabels(f.labels) }

// parseLabels reads key=value label flags.
func parseLabels(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, l := range values {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q: use key=value", l)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--label %q: invalid key: %s", l, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("--label %q: invalid value: %s", l, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	return out, nil
}

func newCreateCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create or update gotk objects",
		Long: `Create or update sources, Kustomizations and the Secrets they use.

Objects are applied with server-side apply (field manager "gotk"): running the
same create again updates the object in place, and a flag left out removes the
field it set. create then waits until the object is Ready, or prints it as
YAML with --export.

Objects go to the namespace given with -n, else to the kubeconfig context's
namespace, else to gotk-system: a source and a Kustomization created without
-n meet in the same namespace.`,
		Example: `  # A source, and a Kustomization that applies a path of it
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master
  gotk create kustomization podinfo --source=podinfo --path=./kustomize --prune

  # The credentials of a private repository
  gotk create secret git podinfo-auth --url=https://git.example.com/org/repo --username=bot --password="$TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source := &cobra.Command{
		Use:   "source",
		Short: "Create or update sources",
		Example: `  # A GitRepository that follows a branch
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master

  # A HelmRepository, and a chart from it
  gotk create source helm podinfo --url=https://stefanprodan.github.io/podinfo
  gotk create source chart podinfo --source=HelmRepository/podinfo --chart=podinfo --chart-version=6.x`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	source.AddCommand(newCreateSourceGitCmd(c), newCreateSourceHelmCmd(c), newCreateSourceChartCmd(c),
		newCreateSourceOCICmd(c), newCreateSourceBucketCmd(c))
	secret := &cobra.Command{
		Use:   "secret",
		Short: "Create or update the Secrets that sources use",
		Example: `  # Basic auth for an HTTPS repository
  gotk create secret git podinfo-auth --url=https://git.example.com/org/repo --username=bot --password="$TOKEN"

  # Basic auth for a Helm repository
  gotk create secret helm charts-auth --username=bot --password="$TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	secret.AddCommand(newCreateSecretGitCmd(c), newCreateSecretHelmCmd(c), newCreateSecretReceiverCmd(c))
	cmd.AddCommand(source, newCreateKustomizationCmd(c), newCreateHelmReleaseCmd(c), secret, newCreateReceiverCmd(c))
	cmd.AddCommand(newCreateAlertProviderCmd(c), newCreateAlertCmd(c))
	return cmd
}

// validateName checks an object name given as an argument.
func validateName(kind, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid %s name: %s", name, kind, strings.Join(errs, "; "))
	}
	return nil
}

// printYAML writes objects as a YAML stream, each document led by "---",
// cleaned by exportable.
func printYAML(w io.Writer, objs ...*unstructured.Unstructured) error {
	for _, u := range objs {
		data, err := yaml.Marshal(exportable(u).Object)
		if err != nil {
			return fmt.Errorf("encode %s %s as YAML: %w", u.GetKind(), u.GetName(), err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// printTypedYAML is printYAML for a typed object with its TypeMeta set.
func printTypedYAML(w io.Writer, obj kruntime.Object) error {
	u, err := install.ToUnstructured(obj)
	if err != nil {
		return err
	}
	return printYAML(w, u)
}

// substituteName is what a post-build variable name may be.
var substituteName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// createdOrConfigured is the verb for an apply's outcome.
func createdOrConfigured(created bool) string {
	if created {
		return "created"
	}
	return "configured"
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
