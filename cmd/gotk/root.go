package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/scheme"
	gotkversion "github.com/gotk-dev/gotk/internal/version"
)

// cli is what every command shares: the connection flags and the streams.
type cli struct {
	kube   *genericclioptions.ConfigFlags
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	// status prints progress, warnings and the final error to errOut; one
	// printer, so that an error replaces a progress line on a terminal.
	status *printer
}

// run builds the command tree, runs it with args, prints an error if there
// is one and returns the exit code: 0 only on success.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, in, out, errOut)
}

// runContext is run with a context that ends the command (a watch, a
// wait) when it is done.
func runContext(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	// controller-runtime's client logs nothing the user needs; its errors
	// are returned.
	ctrllog.SetLogger(logr.Discard())
	c := newCLI(in, out, errOut)
	root := c.rootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				c.status.fail("%s", ee.err.Error())
			}
			return ee.code
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") {
			msg += "\nrun gotk --help for the list of commands"
		}
		c.status.fail("%s", msg)
		return 1
	}
	return 0
}

func newCLI(in io.Reader, out, errOut io.Writer) *cli {
	c := &cli{
		kube:   genericclioptions.NewConfigFlags(true),
		in:     in,
		out:    out,
		errOut: errOut,
		status: newPrinter(errOut),
	}
	// gotk's own commands work in gotk's namespace unless told otherwise.
	*c.kube.Namespace = install.DefaultNamespace
	return c
}

// rootCmd builds the command tree.
func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gotk",
		Short: "Install and operate gotk, a GitOps toolkit for Kubernetes",
		Long: `gotk installs and operates a set of Kubernetes controllers that keep a cluster
equal to what Git repositories, Helm repositories, OCI registries and buckets
declare. It speaks the GitOps Toolkit APIs (*.toolkit.fluxcd.io) of Flux v2.

It connects to the cluster like kubectl: --kubeconfig, --context and the other
connection flags, or the KUBECONFIG environment variable.`,
		Example: `  # Check that the cluster can run gotk, then install it
  gotk check --pre
  gotk install

  # Sync a Git repository to the cluster
  gotk create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master
  gotk create kustomization podinfo --source=podinfo --path=./kustomize --prune

  # See how everything is doing
  gotk get all
  gotk stats

  # Print the version of the CLI and of the installed controllers
  gotk version`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.errOut)
	c.kube.AddFlags(root.PersistentFlags())
	if f := root.PersistentFlags().Lookup("namespace"); f != nil {
		f.Usage = "Namespace of the objects. install, check, uninstall and version use gotk-system unless told; " +
			"the commands on gotk objects (create, get, reconcile...) use the kubeconfig context's namespace, or gotk-system when it sets none."
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w; see %s --help", err, cmd.CommandPath())
	})

	root.AddCommand(
		newVersionCmd(c),
		newInstallCmd(c),
		newBootstrapCmd(c),
		newCheckCmd(c),
		newUninstallCmd(c),
		newCreateCmd(c),
		newGetCmd(c),
		newReconcileCmd(c),
		newSuspendCmd(c),
		newResumeCmd(c),
		newDeleteCmd(c),
		newExportCmd(c),
		newEventsCmd(c),
		newLogsCmd(c),
		newTreeCmd(c),
		newTraceCmd(c),
		newStatsCmd(c),
		newBuildCmd(c),
		newDiffCmd(c),
		newPushCmd(c),
		newPullCmd(c),
		newTagCmd(c),
		newListCmd(c),
		newMigrateCmd(c),
	)
	addCompletionCmd(root)
	addHelpCmd(root)
	return root
}

// namespace is the namespace gotk runs in (-n).
func (c *cli) namespace() string {
	if ns := strings.TrimSpace(*c.kube.Namespace); ns != "" {
		return ns
	}
	return install.DefaultNamespace
}

// restConfig loads the connection settings, with a hint when none is
// found.
func (c *cli) restConfig() (*rest.Config, error) {
	cfg, err := c.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to talk to: %w; point --kubeconfig (or KUBECONFIG) at a kubeconfig file, or pick one of its contexts with --context", err)
	}
	cfg.UserAgent = "gotk/" + gotkversion.String()
	return cfg, nil
}

// connect returns a client and the API server's version. Asking for the
// version first turns an unreachable cluster into one clear error.
func (c *cli) connect() (client.Client, *version.Info, error) {
	cfg, err := c.restConfig()
	if err != nil {
		return nil, nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("create a discovery client for %s: %w", cfg.Host, err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the Kubernetes API server at %s: %w; check --kubeconfig and --context, and that the cluster is running", cfg.Host, err)
	}
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, nil, fmt.Errorf("create a client for %s: %w", cfg.Host, err)
	}
	return cl, info, nil
}

// exitError ends the command with an exit code other than 1, such as
// diff's 1 for "there are differences" (no message) and 2 for a failure.
type exitError struct {
	code int
	// err is printed as the failure, when not nil.
	err error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// errCancelled is returned when the user answers no.
var errCancelled = errors.New("cancelled: nothing was changed")

// addCompletionCmd adds cobra's completion command, with examples.
func addCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, cmd := range root.Commands() {
		if cmd.Name() != "completion" {
			continue
		}
		cmd.Example = `  # Load completions into the current bash shell
  source <(gotk completion bash)

  # Load them in every new zsh session
  gotk completion zsh > "${fpath[1]}/_gotk"`
		examples := map[string]string{
			"bash":       "  source <(gotk completion bash)",
			"zsh":        "  gotk completion zsh > \"${fpath[1]}/_gotk\"",
			"fish":       "  gotk completion fish > ~/.config/fish/completions/gotk.fish",
			"powershell": "  gotk completion powershell | Out-String | Invoke-Expression",
		}
		for _, sub := range cmd.Commands() {
			sub.Example = examples[sub.Name()]
		}
	}
}

// addHelpCmd replaces cobra's help command with one that has an example.
func addHelpCmd(root *cobra.Command) {
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Example: `  # Show the flags and examples of gotk install
  gotk help install`,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, c := range root.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					names = append(names, c.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, _, err := root.Find(args)
			if target == nil || err != nil {
				return fmt.Errorf("unknown help topic %q: run gotk --help for the list of commands", strings.Join(args, " "))
			}
			return target.Help()
		},
	})
}
