package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotk-dev/gotk/internal/controller"
	"github.com/gotk-dev/gotk/internal/install"
)

func newInstallCmd(c *cli) *cobra.Command {
	opts := install.DefaultOptions()
	var export bool
	timeout := install.DefaultTimeout
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the gotk controllers and CRDs into a cluster",
		Long: `Install the gotk controllers, their CRDs, RBAC, Services and NetworkPolicies.

The objects are applied with server-side apply (field manager "gotk"), so
running install again upgrades an install in place. The CRDs are applied first
and must be Established; then the rest is applied and install waits until the
controller Deployments are Available, up to --timeout for each of the two
waits.

With --export nothing is applied: the manifests are printed as one
multi-document YAML, to commit to Git or to apply with kubectl.

The source, notification and image controllers get ClusterRoles limited to
what they need. The kustomize and helm controllers apply arbitrary objects,
so they are bound to cluster-admin (as in Flux); restrict what tenants can
do with spec.serviceAccountName, which they impersonate.`,
		Example: `  # Install every controller into gotk-system
  gotk install

  # Only the source and kustomize controllers, in one Deployment
  gotk install --components=source,kustomize --all-in-one

  # Print the manifests instead of applying them
  gotk install --export > gotk-components.yaml

  # Images from a private registry
  gotk install --registry=registry.example.com/gotk --image-pull-secret=regcred`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Namespace = c.namespace()
			m, err := install.Generate(opts)
			if err != nil {
				return err
			}
			if export {
				data, err := m.YAML()
				if err != nil {
					return err
				}
				_, err = c.out.Write(data)
				return err
			}
			return runInstall(cmd, c, m, timeout)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&export, "export", false, "Print the manifests as YAML instead of applying them.")
	bindInstallFlags(cmd, &opts)
	f.DurationVar(&timeout, "timeout", timeout, "How long to wait for the CRDs to be Established, and then for the controllers to be Available.")
	return cmd
}

// bindInstallFlags adds the flags that choose what gets installed, shared
// by install and bootstrap.
func bindInstallFlags(cmd *cobra.Command, opts *install.Options) {
	f := cmd.Flags()
	f.StringSliceVar(&opts.Components, "components", opts.Components,
		"Controllers to install, comma-separated: "+strings.Join(controller.Names, ", ")+".")
	f.BoolVar(&opts.AllInOne, "all-in-one", false, "Run every chosen controller in one Deployment (for small clusters).")
	f.StringVar(&opts.Registry, "registry", opts.Registry, "Registry and path of the gotk-controller image.")
	f.StringVar(&opts.Version, "version", opts.Version, "Image tag of the gotk-controller image.")
	f.StringVar(&opts.ImagePullSecret, "image-pull-secret", "", "Secret in the gotk namespace with the credentials to pull the image.")
	f.StringVar(&opts.LogLevel, "log-level", opts.LogLevel, "Log level of the controllers: debug, info, error or trace.")
	f.BoolVar(&opts.WatchAllNamespaces, "watch-all-namespaces", opts.WatchAllNamespaces,
		"Reconcile objects in every namespace; with false, only in the gotk namespace.")
	f.BoolVar(&opts.NetworkPolicy, "network-policy", opts.NetworkPolicy,
		"Add NetworkPolicies that let only the gotk namespace reach the controllers (metrics and webhooks excepted).")
	f.StringVar(&opts.ClusterDomain, "cluster-domain", opts.ClusterDomain, "The cluster's DNS domain.")
	_ = cmd.RegisterFlagCompletionFunc("components", cobra.FixedCompletions(controller.Names, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "error", "trace"}, cobra.ShellCompDirectiveNoFileComp))
}

func runInstall(cmd *cobra.Command, c *cli, m *install.Manifests, timeout time.Duration) error {
	p := c.status
	cl, info, err := c.connect()
	if err != nil {
		return err
	}
	if _, err := checkServerVersion(info); err != nil {
		return err
	}
	o := m.Options
	p.step("installing gotk %s (%s) into namespace %s", o.Version, strings.Join(o.Components, ", "), o.Namespace)
	applied := 0
	err = install.Install(cmd.Context(), cl, m, install.InstallOptions{
		Timeout: timeout,
		OnApplied: func(install.ObjectRef) {
			applied++
			if applied == len(m.CRDs) {
				p.ok("applied %d CRDs", applied)
			}
			if applied == len(m.CRDs)+len(m.Objects) {
				p.ok("applied %d objects", len(m.Objects))
			}
		},
		OnProgress: func(pr install.Progress) {
			if pr.Ready == pr.Total {
				p.ok("%s: %d/%d", pr.Phase, pr.Ready, pr.Total)
				return
			}
			var names []string
			for _, w := range pr.Waiting {
				names = append(names, w.Ref.Name)
			}
			p.progress("waiting for %s: %d/%d ready (waiting for %s)", pr.Phase, pr.Ready, pr.Total, strings.Join(names, ", "))
		},
	})
	var nr *install.NotReadyError
	if errors.As(err, &nr) {
		return installTimeoutError(nr, o.Namespace)
	}
	if err != nil {
		return err
	}
	p.ok("gotk is installed in namespace %s", o.Namespace)
	return nil
}

// installTimeoutError says which objects are not ready and where to look.
func installTimeoutError(nr *install.NotReadyError, namespace string) error {
	var lines []string
	kind := "objects"
	first := ""
	for _, o := range nr.Objects {
		kind = o.Ref.GVK.Kind + "s"
		if first == "" {
			first = o.Ref.Name
		}
		line := "  - " + o.Ref.String()
		if o.Message != "" {
			line += ": " + o.Message
		}
		lines = append(lines, line)
	}
	hint := fmt.Sprintf("the objects were applied; see why with `gotk check -n %s` and `kubectl -n %s describe deployment %s`, then run install again with a longer --timeout if the cluster is only slow", namespace, namespace, first)
	if kind == "CustomResourceDefinitions" {
		hint = fmt.Sprintf("see why with `kubectl get crd %s -o yaml` (status.conditions)", first)
	}
	return fmt.Errorf("install timed out: these %s are not %s after %s:\n%s\n%s", kind, nr.Want, nr.Timeout, strings.Join(lines, "\n"), hint)
}
