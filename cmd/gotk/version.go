package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gotk-dev/gotk/internal/install"
	"github.com/gotk-dev/gotk/internal/version"
)

func newVersionCmd(c *cli) *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of the CLI and of the installed controllers",
		Long: `Print the version of this gotk binary and, unless --client is given, the image
tag of each gotk controller Deployment in the gotk namespace (the Deployments
labelled app.kubernetes.io/part-of=gotk).`,
		Example: `  # The CLI and the controllers
  gotk version

  # Only the CLI, without contacting a cluster
  gotk version --client

  # As JSON, for scripts
  gotk version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "yaml" && output != "json" {
				return fmt.Errorf("unknown --output %q: use yaml or json, or leave it out for text", output)
			}
			versions := [][2]string{{"gotk", version.String()}}
			if !clientOnly {
				cl, _, err := c.connect()
				if err != nil {
					return fmt.Errorf("%w (or use --client to print only the CLI's version)", err)
				}
				controllers, err := controllerVersions(cmd, cl, c.namespace())
				if err != nil {
					return err
				}
				if len(controllers) == 0 {
					c.status.warn("no gotk controllers in namespace %s: install them with gotk install, or name their namespace with -n", c.namespace())
				}
				versions = append(versions, controllers...)
			}
			return printVersions(c, versions, output)
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Print only the CLI's version; do not contact the cluster.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: yaml or json (default: text).")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// controllerVersions reads the gotk Deployments in namespace and returns
// each one's name and image tag, sorted by name.
func controllerVersions(cmd *cobra.Command, cl client.Client, namespace string) ([][2]string, error) {
	list := &appsv1.DeploymentList{}
	if err := cl.List(cmd.Context(), list, client.InNamespace(namespace), client.MatchingLabels{install.PartOfLabel: install.PartOfValue}); err != nil {
		return nil, fmt.Errorf("list the gotk Deployments in namespace %s: %w", namespace, err)
	}
	var out [][2]string
	for _, d := range list.Items {
		out = append(out, [2]string{d.Name, imageTag(d)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// imageTag is the tag (or digest) of the Deployment's manager container.
func imageTag(d appsv1.Deployment) string {
	containers := d.Spec.Template.Spec.Containers
	if len(containers) == 0 {
		return "unknown"
	}
	image := containers[0].Image
	for _, ctr := range containers {
		if ctr.Name == "manager" {
			image = ctr.Image
		}
	}
	if i := strings.Index(image, "@"); i >= 0 {
		return image[i+1:]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}

func printVersions(c *cli, versions [][2]string, output string) error {
	if output == "" {
		for _, v := range versions {
			fmt.Fprintf(c.out, "%s: %s\n", v[0], v[1])
		}
		return nil
	}
	m := map[string]string{}
	for _, v := range versions {
		m[v[0]] = v[1]
	}
	var data []byte
	var err error
	if output == "json" {
		data, err = json.MarshalIndent(m, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(m)
	}
	if err != nil {
		return err
	}
	_, err = c.out.Write(data)
	return err
}
