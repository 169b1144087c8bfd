package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type getFlags struct {
	allNamespaces  bool
	output         string
	watch          bool
	statusSelector string
}

func newGetCmd(c *cli) *cobra.Command {
	f := &getFlags{}
	cmd := &cobra.Command{
		Use:   "get",
		Short: "List gotk objects and how they are doing",
		Long: `List gotk objects as a table: NAME, REVISION (what the object last fetched or
applied), SUSPENDED, READY, MESSAGE (the Ready condition's message) and AGE,
with NAMESPACE first for -A.

-o yaml or -o json prints the objects instead; --watch prints a row again each
time an object changes; --status-selector keeps only the objects whose
condition has the given status, such as ready=false.`,
		Example: `  # Everything in the current namespace
  gotk get all

  # The GitRepositories of every namespace that are not Ready
  gotk get sources git -A --status-selector ready=false

  # Follow the Kustomizations as they reconcile
  gotk get kustomizations --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "List the objects of every namespace.")
	pf.StringVarP(&f.output, "output", "o", "", "Output format: yaml or json (default: a table).")
	pf.BoolVarP(&f.watch, "watch", "w", false, "After listing, print the objects again as they change.")
	pf.StringVar(&f.statusSelector, "status-selector", "", "Keep objects whose conditions match, as type=status[,type=status], such as ready=false.")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("status-selector", cobra.FixedCompletions(
		[]string{"ready=true", "ready=false", "ready=unknown", "stalled=true", "reconciling=true"}, cobra.ShellCompDirectiveNoFileComp))

	sources := &cobra.Command{
		Use:     "sources",
		Aliases: []string{"source"},
		Short:   "List sources",
		Example: `  # The GitRepositories in gotk-system
  gotk get sources git -n gotk-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	sources.AddCommand(newGetKindCmd(c, f, gitRepositoryKind, &cobra.Command{
		Use:     "git [NAME]",
		Aliases: []string{"gitrepository", "gitrepositories"},
		Short:   "List GitRepositories",
		Example: `  # The GitRepositories of the current namespace
  gotk get sources git

  # One of them, as YAML
  gotk get sources git podinfo -o yaml

  # Every namespace, only those that failed
  gotk get sources git -A --status-selector ready=false`,
	}), newGetKindCmd(c, f, helmRepositoryKind, &cobra.Command{
		Use:     "helm [NAME]",
		Aliases: []string{"helmrepository", "helmrepositories"},
		Short:   "List HelmRepositories",
		Example: `  # The HelmRepositories of the current namespace
  gotk get sources helm

  # Every namespace, only those that failed
  gotk get sources helm -A --status-selector ready=false`,
	}), newGetKindCmd(c, f, helmChartKind, &cobra.Command{
		Use:     "chart [NAME]",
		Aliases: []string{"helmchart", "helmcharts"},
		Short:   "List HelmCharts",
		Example: `  # The HelmCharts of the current namespace, with the chart version they pulled
  gotk get sources chart

  # One of them, as YAML
  gotk get sources chart podinfo -o yaml`,
	}), newGetKindCmd(c, f, ociRepositoryKind, &cobra.Command{
		Use:     "oci [NAME]",
		Aliases: []string{"ocirepository", "ocirepositories"},
		Short:   "List OCIRepositories",
		Example: `  # The OCIRepositories of the current namespace, with the tag and digest they pulled
  gotk get sources oci`,
	}), newGetKindCmd(c, f, bucketKind, &cobra.Command{
		Use:     "bucket [NAME]",
		Aliases: []string{"buckets"},
		Short:   "List Buckets",
		Example: `  # The Buckets of the current namespace
  gotk get sources bucket`,
	}))
	cmd.AddCommand(sources, newGetKindCmd(c, f, kustomizationKind, &cobra.Command{
		Use:     "kustomizations [NAME]",
		Aliases: []string{"kustomization", "ks"},
		Short:   "List Kustomizations",
		Example: `  # The Kustomizations of the current namespace
  gotk get kustomizations

  # Follow them as they reconcile
  gotk get ks --watch`,
	}), newGetReceiversCmd(c, f), newGetAllCmd(c, f))
	sources.AddCommand(newGetKindCmd(c, f, externalArtifactKind, &cobra.Command{
		Use:     "external [NAME]",
		Aliases: []string{"externalartifact", "externalartifacts", "ea"},
		Short:   "List ExternalArtifacts",
		Example: `  # The ExternalArtifacts of the current namespace, with their revision
  gotk get sources external`,
	}))
	cmd.AddCommand(artifactParent("List", newGetKindCmd(c, f, artifactGeneratorKind, &cobra.Command{
		Use:     "generator [NAME]",
		Aliases: []string{"generators", "artifactgenerator", "artifactgenerators", "ag"},
		Short:   "List ArtifactGenerators",
		Example: `  # The ArtifactGenerators of the current namespace
  gotk get artifact generator

  # Every namespace, only those that failed
  gotk get artifact generator -A --status-selector ready=false`,
	})))
	cmd.AddCommand(newGetKindCmd(c, f, alertKind, &cobra.Command{
		Use:     "alerts [NAME]",
		Aliases: []string{"alert"},
		Short:   "List Alerts",
		Example: `  # The Alerts of the current namespace, and whether their Provider is usable
  gotk get alerts`,
	}), newGetKindCmd(c, f, providerKind, &cobra.Command{
		Use:     "alert-providers [NAME]",
		Aliases: []string{"alert-provider", "providers"},
		Short:   "List Providers",
		Example: `  # The Providers of every namespace that cannot deliver
  gotk get alert-providers -A --status-selector ready=false`,
	}))
	cmd.AddCommand(newGetKindCmd(c, f, helmReleaseKind, &cobra.Command{
		Use:     "helmreleases [NAME]",
		Aliases: []string{"helmrelease", "hr"},
		Short:   "List HelmReleases",
		Example: `  # The HelmReleases of the current namespace, with the chart version last attempted
  gotk get helmreleases

  # In every namespace
  gotk get hr -A`,
	}))
	return cmd
}

// newGetKindCmd completes cmd into the listing of one kind.
func newGetKindCmd(c *cli, f *getFlags, k gotkKind, cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.MaximumNArgs(1)
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return c.completeNames(k)(cmd, args, toComplete)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		return runGet(cmd, c, f, k, name)
	}
	return cmd
}

func newGetAllCmd(c *cli, f *getFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "all",
		Short: "List the objects of every gotk kind",
		Long: `List the objects of every gotk kind whose CRD is installed, one table per kind,
each name led by its kind (gitrepository/podinfo).`,
		Example: `  # Everything in gotk-system
  gotk get all -n gotk-system

  # Everything that is not Ready, in every namespace
  gotk get all -A --status-selector ready=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.watch {
				return errors.New("--watch follows one kind: use gotk get sources git --watch or gotk get kustomizations --watch")
			}
			return runGetAll(cmd, c, f)
		},
	}
}

// statusSelector is a parsed --status-selector.
type statusSelector map[string]string

// parseStatusSelector reads type=status pairs, case-insensitively.
func parseStatusSelector(s string) (statusSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	sel := statusSelector{}
	for _, part := range strings.Split(s, ",") {
		t, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		v = strings.ToLower(strings.TrimSpace(v))
		if !ok || t == "" || (v != "true" && v != "false" && v != "unknown") {
			return nil, fmt.Errorf("--status-selector %q: use conditionType=status, with status true, false or unknown, such as ready=false", s)
		}
		sel[strings.ToLower(strings.TrimSpace(t))] = v
	}
	return sel, nil
}

// matches reports whether every selected condition has the selected
// status; a missing condition counts as unknown.
func (sel statusSelector) matches(u *unstructured.Unstructured) bool {
	if len(sel) == 0 {
		return true
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for t, want := range sel {
		got := "unknown"
		for _, raw := range conds {
			m, _ := raw.(map[string]any)
			if ct, _ := m["type"].(string); strings.EqualFold(ct, t) {
				st, _ := m["status"].(string)
				got = strings.ToLower(st)
			}
		}
		if got != want {
			return false
		}
	}
	return true
}

// getRow is the table row of an object.
func getRow(k gotkKind, u *unstructured.Unstructured, allNamespaces, kindPrefix bool) []string {
	ready, msg := readyStatus(u)
	name := u.GetName()
	if kindPrefix {
		name = strings.ToLower(k.Kind()) + "/" + name
	}
	row := []string{name, k.Revision(u), boolColumn(isSuspended(u)), ready, msg, age(u.GetCreationTimestamp().Time)}
	if allNamespaces {
		row = append([]string{u.GetNamespace()}, row...)
	}
	return row
}

// boolColumn spells a boolean as the READY column spells statuses.
func boolColumn(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func getHeader(allNamespaces bool) []string {
	h := []string{"NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE", "AGE"}
	if allNamespaces {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

func runGet(cmd *cobra.Command, c *cli, f *getFlags, k gotkKind, name string) error {
	if err := validateOutput(f.output); err != nil {
		return err
	}
	sel, err := parseStatusSelector(f.statusSelector)
	if err != nil {
		return err
	}
	if name != "" && f.allNamespaces {
		return errors.New("a name needs one namespace: leave out -A and give -n")
	}
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	ns := c.objectNamespace(cmd)
	if f.allNamespaces {
		ns = ""
	}
	var items []unstructured.Unstructured
	rv := ""
	if name != "" {
		u, err := getObject(ctx, cl, k, client.ObjectKey{Namespace: ns, Name: name})
		if err != nil {
			return err
		}
		items, rv = []unstructured.Unstructured{*u}, u.GetResourceVersion()
	} else {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.ListGVK())
		opts := []client.ListOption{}
		if ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := cl.List(ctx, list, opts...); err != nil {
			return listError(k, ns, err)
		}
		items, rv = list.Items, list.GetResourceVersion()
	}
	items = filterObjects(items, sel)
	sortObjects(items)
	if f.output != "" {
		if f.watch {
			return errors.New("--watch prints a table: leave out -o")
		}
		return printObjects(c.out, f.output, name != "", items)
	}
	t := newTable(c.out)
	if len(items) == 0 && !f.watch {
		c.status.warn("no %s found %s", k.Plural, where(ns))
		return nil
	}
	t.row(getHeader(f.allNamespaces)...)
	for i := range items {
		t.row(getRow(k, &items[i], f.allNamespaces, false)...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !f.watch {
		return nil
	}
	wl := &unstructured.UnstructuredList{}
	wl.SetGroupVersionKind(k.ListGVK())
	var wopts []client.ListOption
	if ns != "" {
		wopts = append(wopts, client.InNamespace(ns))
	}
	if name != "" {
		wopts = append(wopts, client.MatchingFields{"metadata.name": name})
	}
	err = watchChanges(ctx, cl, wl, wopts, rv, true, func(o client.Object) error {
		u, ok := o.(*unstructured.Unstructured)
		if !ok || !sel.matches(u) {
			return nil
		}
		t.row(getRow(k, u, f.allNamespaces, false)...)
		return t.flush()
	})
	if err != nil {
		return fmt.Errorf("watch %s %s: %w", k.Plural, where(ns), err)
	}
	return nil
}

// where says "in namespace x" or "in any namespace".
func where(namespace string) string {
	if namespace == "" {
		return "in any namespace"
	}
	return "in namespace " + namespace
}

// listError turns a missing CRD into advice.
func listError(k gotkKind, namespace string, err error) error {
	if apimeta.IsNoMatchError(err) {
		return fmt.Errorf("the cluster does not serve %s: install gotk first (gotk install)", k.GVK.GroupKind())
	}
	return fmt.Errorf("list %s %s: %w", k.Plural, where(namespace), err)
}

func filterObjects(items []unstructured.Unstructured, sel statusSelector) []unstructured.Unstructured {
	out := items[:0]
	for i := range items {
		if sel.matches(&items[i]) {
			out = append(out, items[i])
		}
	}
	return out
}

func sortObjects(items []unstructured.Unstructured) {
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
}

func runGetAll(cmd *cobra.Command, c *cli, f *getFlags) error {
	if err := validateOutput(f.output); err != nil {
		return err
	}
	sel, err := parseStatusSelector(f.statusSelector)
	if err != nil {
		return err
	}
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	ns := c.objectNamespace(cmd)
	if f.allNamespaces {
		ns = ""
	}
	var all []unstructured.Unstructured
	printed := 0
	for _, k := range gotkKinds {
		items, err := listObjects(cmd.Context(), cl, k, ns)
		if apimeta.IsNoMatchError(err) {
			continue // CRD not installed
		}
		if err != nil {
			return err
		}
		items = filterObjects(items, sel)
		if len(items) == 0 {
			continue
		}
		sortObjects(items)
		if f.output != "" {
			all = append(all, items...)
			continue
		}
		if printed > 0 {
			fmt.Fprintln(c.out)
		}
		t := newTable(c.out)
		t.row(getHeader(f.allNamespaces)...)
		for i := range items {
			t.row(getRow(k, &items[i], f.allNamespaces, true)...)
		}
		if err := t.flush(); err != nil {
			return err
		}
		printed++
	}
	if f.output != "" {
		return printObjects(c.out, f.output, false, all)
	}
	if printed == 0 {
		c.status.warn("no gotk objects found %s", where(ns))
	}
	return nil
}
