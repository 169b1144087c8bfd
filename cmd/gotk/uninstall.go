package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gotk-dev/gotk/internal/install"
)

// maxAnswer caps how much of stdin the confirmation reads.
const maxAnswer = 1024

func newUninstallCmd(c *cli) *cobra.Command {
	var silent, dryRun, keepNamespace bool
	timeout := install.DefaultTimeout
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove gotk's controllers and CRDs from the cluster",
		Long: `Remove what gotk install created: the controller Deployments, Services,
NetworkPolicies, RBAC, the CRDs and (unless --keep-namespace) the namespace.

Deleting the CRDs deletes every gotk object (GitRepositories, Kustomizations,
HelmReleases...) in every namespace, so uninstall first lists how many there
are and where. It stops the controllers and takes the gotk finalizer off
those objects before deleting the CRDs, so nothing hangs and nothing is
pruned: the workloads that Kustomizations and HelmReleases applied stay in
the cluster, unmanaged.`,
		Example: `  # Asks for confirmation first
  gotk uninstall

  # Show what would be deleted, change nothing
  gotk uninstall --dry-run

  # No question asked; keep the gotk-system namespace
  gotk uninstall --silent --keep-namespace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := c.status
			ns := c.namespace()
			cl, _, err := c.connect()
			if err != nil {
				return err
			}
			inv, err := install.Discover(cmd.Context(), cl, ns)
			if err != nil {
				return err
			}
			if len(inv.Installed) == 0 {
				p.ok("nothing to uninstall: no gotk objects in namespace %s and no gotk CRDs", ns)
				return nil
			}
			warnCustomObjects(p, inv)
			if dryRun {
				for _, r := range inv.Installed {
					if r.GVK.Kind == "Namespace" && keepNamespace {
						continue
					}
					fmt.Fprintf(c.out, "would delete %s\n", r)
				}
				p.ok("dry run: nothing was changed")
				return nil
			}
			if !silent {
				yes, err := confirm(c, fmt.Sprintf("Delete gotk from namespace %s and its CRDs from the cluster?", ns))
				if err != nil {
					return err
				}
				if !yes {
					return errCancelled
				}
			}
			p.step("uninstalling gotk from namespace %s", ns)
			err = install.Uninstall(cmd.Context(), cl, inv, install.UninstallOptions{
				KeepNamespace: keepNamespace,
				Timeout:       timeout,
				OnStep:        func(s string) { fmt.Fprintln(c.out, s) },
			})
			if err != nil {
				return fmt.Errorf("uninstall stopped: %w; run gotk uninstall again once that is fixed", err)
			}
			if inv.ForeignNamespace && !keepNamespace {
				p.step("namespace %s stays: gotk did not create it", ns)
			}
			p.ok("gotk is uninstalled")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&silent, "silent", false, "Do not ask for confirmation.")
	f.BoolVar(&dryRun, "dry-run", false, "Print what would be deleted and change nothing.")
	f.BoolVar(&keepNamespace, "keep-namespace", false, "Keep the gotk namespace.")
	f.DurationVar(&timeout, "timeout", timeout, "How long to wait for the controllers to stop, and then for the CRDs to be deleted.")
	return cmd
}

// warnCustomObjects says which gotk objects go with the CRDs, and that
// what they applied stays.
func warnCustomObjects(p *printer, inv *install.Inventory) {
	if !inv.HasCustomObjects() {
		return
	}
	var lines []string
	for _, k := range inv.Custom {
		var where []string
		for _, n := range k.Namespaces {
			where = append(where, fmt.Sprintf("%d in %s", n.Count, n.Namespace))
		}
		lines = append(lines, fmt.Sprintf("    %s: %s", k.GVK.Kind, strings.Join(where, ", ")))
	}
	p.warn("deleting the CRDs deletes these gotk objects, in every namespace:\n%s\n  The workloads they applied stay in the cluster: gotk takes its finalizers off first, so nothing is pruned or uninstalled.",
		strings.Join(lines, "\n"))
}

// confirm asks a y/N question on stdin; anything but y or yes is no.
func confirm(c *cli, question string) (bool, error) {
	fmt.Fprintf(c.errOut, "%s [y/N] ", question)
	line, err := bufio.NewReader(io.LimitReader(c.in, maxAnswer)).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read the answer from stdin: %w", err)
	}
	if !isTerminal(c.in) {
		// Nobody typed Enter: end the question's line.
		fmt.Fprintln(c.errOut)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}
