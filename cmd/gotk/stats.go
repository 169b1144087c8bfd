package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func newStatsCmd(c *cli) *cobra.Command {
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count the gotk objects per kind: running, failing, suspended, and artifact storage",
		Long: `Show one row per gotk kind whose CRD is installed: RECONCILERS (how many
objects), RUNNING (not suspended), FAILING (Ready is False), SUSPENDED, and for
sources STORAGE, the total size of their artifacts.`,
		Example: `  # The current namespace
  gotk stats

  # The whole cluster
  gotk stats -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.watchClient()
			if err != nil {
				return err
			}
			ns := c.objectNamespace(cmd)
			if allNamespaces {
				ns = ""
			}
			t := newTable(c.out)
			t.row("RECONCILERS", "RUNNING", "FAILING", "SUSPENDED", "STORAGE")
			rows := 0
			for _, k := range gotkKinds {
				items, err := listObjects(cmd.Context(), cl, k, ns)
				if apimeta.IsNoMatchError(err) {
					continue
				}
				if err != nil {
					return err
				}
				s := countStats(k, items)
				storage := "-"
				if k.Source {
					storage = humanBytes(s.storage)
				}
				t.row(k.Kind(), strconv.Itoa(s.running), strconv.Itoa(s.failing), strconv.Itoa(s.suspended), storage)
				rows++
			}
			if rows == 0 {
				return fmt.Errorf("the cluster serves none of the gotk kinds: install gotk first (gotk install)")
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "Count the objects of every namespace.")
	return cmd
}

// kindStats are the counts of one kind.
type kindStats struct {
	running, failing, suspended int
	storage                     int64
}

func countStats(k gotkKind, items []unstructured.Unstructured) kindStats {
	var s kindStats
	for i := range items {
		u := &items[i]
		if isSuspended(u) {
			s.suspended++
		} else {
			s.running++
		}
		if ready, _ := readyStatus(u); ready == "False" {
			s.failing++
		}
		if k.Source {
			if size, ok, _ := unstructured.NestedInt64(u.Object, "status", "artifact", "size"); ok && size > 0 {
				s.storage += size
			}
		}
	}
	return s
}

// humanBytes writes a size in IEC units: "0 B", "512 B", "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
