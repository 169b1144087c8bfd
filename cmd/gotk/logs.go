package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/gotk-dev/gotk/internal/install"
)

// maxLogLine caps one log line; longer lines are cut.
const maxLogLine = 1 << 20

type logsFlags struct {
	kind, name, level string
	controllersNS     string
	allNamespaces     bool
	follow            bool
	tail              int64
}

func newLogsCmd(c *cli) *cobra.Command {
	f := &logsFlags{}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the logs of the gotk controllers, filtered by object and level",
		Long: `Read the logs of the gotk controller pods (label app.kubernetes.io/part-of=gotk
in --gotk-namespace) and show the lines about the objects you ask for.

The controllers log JSON lines; logs keeps those whose keys match: --kind
(controllerKind), --name (name), the namespace of the objects (namespace: -n,
the kubeconfig context's namespace or gotk-system; -A for any) and --level
(that level and the more severe ones: debug, info, error). Lines that are not
about one object (start-up, leader election) show only with -A and no --name
(and, with --kind, only the lines of that kind's controller).`,
		Example: `  # What the controllers said about the objects of the current namespace
  gotk logs

  # One Kustomization's lines, as they come
  gotk logs --kind=Kustomization --name=podinfo -n apps -f

  # Every error, in any namespace
  gotk logs -A --level=error`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogs(cmd, c, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "", "Only lines about objects of this kind, such as Kustomization.")
	fl.StringVar(&f.name, "name", "", "Only lines about objects of this name.")
	fl.StringVar(&f.level, "level", "", "Only lines of this level or more severe: debug, info or error.")
	fl.StringVar(&f.controllersNS, "gotk-namespace", install.DefaultNamespace, "Namespace the controllers run in.")
	fl.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "Lines about objects of any namespace.")
	fl.BoolVarP(&f.follow, "follow", "f", false, "Keep printing new lines.")
	fl.Int64Var(&f.tail, "tail", -1, "Only the last lines of each pod's log (-1 for all).")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(kindNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("level", cobra.FixedCompletions([]string{"debug", "info", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// logFilter selects log lines by the keys controller-runtime writes.
type logFilter struct {
	kind, name, namespace string
	minLevel              int
}

// levelRank orders zap's levels; V-levels ("Level(-2)") count as debug.
func levelRank(level string) int {
	switch strings.ToLower(level) {
	case "error", "dpanic", "panic", "fatal":
		return 3
	case "warn":
		return 2
	case "info":
		return 1
	}
	return 0
}

func newLogFilter(f *logsFlags, namespace string) (logFilter, error) {
	lf := logFilter{name: f.name, namespace: namespace}
	if f.kind != "" {
		k, ok := lookupKind(f.kind)
		if !ok {
			return lf, fmt.Errorf("--kind %q is not a gotk kind: use one of %s", f.kind, strings.Join(kindNames(), ", "))
		}
		lf.kind = k.Kind()
	}
	switch f.level {
	case "", "debug", "info", "error":
		lf.minLevel = levelRank(f.level)
	default:
		return lf, fmt.Errorf("--level %q: use debug, info or error", f.level)
	}
	return lf, nil
}

// logLine is what logs reads from one JSON line.
type logLine struct {
	Level          string `json:"level"`
	TS             any    `json:"ts"`
	Msg            string `json:"msg"`
	Error          string `json:"error"`
	Controller     string `json:"controller"`
	ControllerKind string `json:"controllerKind"`
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
}

// parseLogLine reads a JSON log line; ok is false for anything else.
func parseLogLine(line string) (logLine, bool) {
	var l logLine
	if !strings.HasPrefix(strings.TrimSpace(line), "{") {
		return l, false
	}
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg == "" {
		return l, false
	}
	return l, true
}

// keep reports whether a line passes the filter. Lines that are not JSON
// or not about an object pass only a filter without object keys.
func (f logFilter) keep(line string) (logLine, bool, bool) {
	l, ok := parseLogLine(line)
	objectless := f.kind == "" && f.name == "" && f.namespace == ""
	if !ok {
		return l, false, objectless && f.minLevel == 0
	}
	if levelRank(l.Level) < f.minLevel {
		return l, true, false
	}
	if l.Name == "" {
		// Not about one object: start-up, workers, leader election.
		return l, true, objectless || (f.name == "" && f.namespace == "" && l.ControllerKind == f.kind)
	}
	keep := (f.kind == "" || l.ControllerKind == f.kind) &&
		(f.name == "" || l.Name == f.name) &&
		(f.namespace == "" || l.Namespace == f.namespace)
	return l, true, keep
}

// format writes a line as "<ts> <level> <Kind>/<namespace>/<name> - <msg>".
func (l logLine) format() string {
	var b strings.Builder
	if l.TS != nil {
		fmt.Fprintf(&b, "%v ", l.TS)
	}
	b.WriteString(l.Level)
	switch {
	case l.ControllerKind != "" && l.Name != "":
		fmt.Fprintf(&b, " %s/%s/%s -", l.ControllerKind, l.Namespace, l.Name)
	case l.ControllerKind != "":
		fmt.Fprintf(&b, " %s -", l.ControllerKind)
	}
	b.WriteString(" " + l.Msg)
	if l.Error != "" {
		b.WriteString(": " + l.Error)
	}
	return b.String()
}

// filterLogs copies the lines of r that pass f to w, formatted.
func filterLogs(r io.Reader, f logFilter, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLogLine)
	for sc.Scan() {
		line := sc.Text()
		l, isJSON, keep := f.keep(line)
		if !keep {
			continue
		}
		out := line
		if isJSON {
			out = l.format()
		}
		if _, err := fmt.Fprintln(w, out); err != nil {
			return err
		}
	}
	return sc.Err()
}

// lockedWriter serialises the lines of several pods.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func runLogs(cmd *cobra.Command, c *cli, f *logsFlags) error {
	ns := c.objectNamespace(cmd)
	if f.allNamespaces {
		ns = ""
	}
	filter, err := newLogFilter(f, ns)
	if err != nil {
		return err
	}
	if _, _, err := c.connect(); err != nil {
		return err
	}
	cfg, err := c.restConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	pods, err := cs.CoreV1().Pods(f.controllersNS).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{install.PartOfLabel: install.PartOfValue}).String(),
	})
	if err != nil {
		return fmt.Errorf("list the gotk controller pods in namespace %s: %w", f.controllersNS, err)
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("no gotk controller pods in namespace %s: is gotk installed there? name the namespace with --gotk-namespace", f.controllersNS)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	out := &lockedWriter{w: c.out}
	var wg sync.WaitGroup
	errs := make([]error, len(pods.Items))
	for i := range pods.Items {
		pod := &pods.Items[i]
		read := func() { errs[i] = streamPodLogs(ctx, cs, pod, f, filter, out) }
		if !f.follow {
			read()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); read() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// streamPodLogs reads the manager container's log of one pod.
func streamPodLogs(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, f *logsFlags, filter logFilter, w io.Writer) error {
	opts := &corev1.PodLogOptions{Follow: f.follow}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == "manager" {
			opts.Container = ctr.Name
		}
	}
	if f.tail >= 0 {
		opts.TailLines = &f.tail
	}
	rc, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return fmt.Errorf("read the log of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	defer rc.Close()
	if err := filterLogs(rc, filter, w); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read the log of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
