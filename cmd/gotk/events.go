package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type eventsFlags struct {
	forObject     string
	watch         bool
	allNamespaces bool
}

func newEventsCmd(c *cli) *cobra.Command {
	f := &eventsFlags{}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the events of gotk objects",
		Long: `Show the Kubernetes events that the controllers recorded on gotk objects (those
whose involvedObject has an apiVersion in *.toolkit.fluxcd.io), oldest first:
LAST SEEN, TYPE, REASON, OBJECT and MESSAGE, with NAMESPACE first for -A.

--for keeps the events of one object, as Kind/name; --watch prints new events
as they come.`,
		Example: `  # The events of the current namespace
  gotk events

  # Those of one Kustomization, as they come
  gotk events --for Kustomization/podinfo --watch

  # Every namespace
  gotk events -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEvents(cmd, c, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.forObject, "for", "", "Only the events of this object, as Kind/name (GitRepository/podinfo).")
	fl.BoolVarP(&f.watch, "watch", "w", false, "After listing, print new events as they come.")
	fl.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "The events of every namespace.")
	_ = cmd.RegisterFlagCompletionFunc("for", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		kind, prefix, found := strings.Cut(toComplete, "/")
		if !found {
			var out []cobra.Completion
			for _, k := range kindNames() {
				if strings.HasPrefix(strings.ToLower(k), strings.ToLower(toComplete)) {
					out = append(out, k+"/")
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		k, ok := lookupKind(kind)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, dir := c.completeNames(k)(cmd, nil, prefix)
		for i := range names {
			names[i] = kind + "/" + names[i]
		}
		return names, dir
	})
	return cmd
}

// eventFilter selects the events to show.
type eventFilter struct {
	kind, name string
}

// parseFor reads --for: Kind/name of a gotk kind.
func parseFor(s string) (eventFilter, error) {
	if s == "" {
		return eventFilter{}, nil
	}
	kind, name, found := strings.Cut(s, "/")
	k, ok := lookupKind(kind)
	if !found || !ok || name == "" {
		return eventFilter{}, fmt.Errorf("--for %q: use Kind/name of a gotk kind, such as GitRepository/podinfo; the kinds are %s", s, strings.Join(kindNames(), ", "))
	}
	return eventFilter{kind: k.Kind(), name: name}, nil
}

func (f eventFilter) matches(e *corev1.Event) bool {
	o := e.InvolvedObject
	if !isGotkGroup(o.APIVersion) {
		return false
	}
	return f.kind == "" || (o.Kind == f.kind && o.Name == f.name)
}

// fieldSelector lets the server do the --for filtering.
func (f eventFilter) fieldSelector() fields.Selector {
	if f.kind == "" {
		return fields.Everything()
	}
	return fields.SelectorFromSet(fields.Set{"involvedObject.kind": f.kind, "involvedObject.name": f.name})
}

// eventTime is when an event was last seen.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func eventRow(e *corev1.Event, allNamespaces bool) []string {
	o := e.InvolvedObject
	row := []string{age(eventTime(e)), e.Type, e.Reason, o.Kind + "/" + o.Name, e.Message}
	if allNamespaces {
		row = append([]string{e.Namespace}, row...)
	}
	return row
}

func eventHeader(allNamespaces bool) []string {
	h := []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
	if allNamespaces {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

// sortEvents orders events oldest first; ties by namespace and name.
func sortEvents(evs []corev1.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		ti, tj := eventTime(&evs[i]), eventTime(&evs[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		if evs[i].Namespace != evs[j].Namespace {
			return evs[i].Namespace < evs[j].Namespace
		}
		return evs[i].Name < evs[j].Name
	})
}

func runEvents(cmd *cobra.Command, c *cli, f *eventsFlags) error {
	filter, err := parseFor(f.forObject)
	if err != nil {
		return err
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
	opts := []client.ListOption{client.MatchingFieldsSelector{Selector: filter.fieldSelector()}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	list := &corev1.EventList{}
	if err := cl.List(ctx, list, opts...); err != nil {
		return fmt.Errorf("list events %s: %w", where(ns), err)
	}
	var evs []corev1.Event
	for i := range list.Items {
		if filter.matches(&list.Items[i]) {
			evs = append(evs, list.Items[i])
		}
	}
	sortEvents(evs)
	if len(evs) == 0 && !f.watch {
		c.status.warn("no events of gotk objects %s", where(ns))
		return nil
	}
	t := newTable(c.out)
	t.row(eventHeader(f.allNamespaces)...)
	for i := range evs {
		t.row(eventRow(&evs[i], f.allNamespaces)...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !f.watch {
		return nil
	}
	err = watchChanges(ctx, cl, &corev1.EventList{}, opts, list.ResourceVersion, false, func(o client.Object) error {
		e, ok := o.(*corev1.Event)
		if !ok || !filter.matches(e) {
			return nil
		}
		t.row(eventRow(e, f.allNamespaces)...)
		return t.flush()
	})
	if err != nil {
		return fmt.Errorf("watch events %s: %w", where(ns), err)
	}
	return nil
}
