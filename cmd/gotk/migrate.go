package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	helmv2 "github.com/gotk-dev/gotk/api/helm/v2"
	"github.com/gotk-dev/gotk/api/meta"
	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
)

// The Helm Operator's API, which migrate helm-operator reads.
const (
	helmOperatorAPIVersion = "helm.fluxcd.io/v1"
	// helmOperatorDefaultMaxHistory is the number of release revisions the
	// Helm Operator kept when spec.maxHistory was not set.
	helmOperatorDefaultMaxHistory = 10
	// helmOperatorDefaultMaxRetries is the upgrade retries after a
	// rollback when spec.rollback.maxRetries was not set.
	helmOperatorDefaultMaxRetries = 5
)

type migrateHelmOperatorFlags struct {
	files           []string
	sourceNamespace string
	interval        time.Duration
	sourceInterval  time.Duration
}

func newMigrateCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Convert objects of other GitOps tools into gotk's",
		Example: `  # Helm Operator (Flux v1) HelmReleases into HelmReleases, HelmRepositories and GitRepositories
  gotk migrate helm-operator -f releases.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newMigrateHelmOperatorCmd(c))
	return cmd
}

func newMigrateHelmOperatorCmd(c *cli) *cobra.Command {
	f := &migrateHelmOperatorFlags{}
	cmd := &cobra.Command{
		Use:   "helm-operator -f FILE",
		Short: "Convert Helm Operator HelmReleases (helm.fluxcd.io/v1) into gotk HelmReleases and sources",
		Long: `Read Helm Operator HelmReleases (apiVersion helm.fluxcd.io/v1) and print the
objects that replace them in gotk: a helm.toolkit.fluxcd.io/v2 HelmRelease for
each, and the HelmRepository or GitRepository its chart comes from, shared by
the HelmReleases that use the same repository. Nothing is sent to the cluster.

-f reads a file, or standard input when it is "-"; it takes several YAML
documents and may be repeated. A kind: List (kubectl get -o yaml) is read item
by item. Every other document is an error: nothing is printed then.

The converted HelmRelease keeps the release the Helm Operator made: it sets
releaseName to the name the Helm Operator used, and storageNamespace to the
target namespace, where Helm 3 kept the release. A field that has no
equivalent is reported on standard error with the file, the document and the
field, and left out of the output. See docs/migrating-from-helm-operator.md.`,
		Example: `  # Convert one file and review the result
  gotk migrate helm-operator -f podinfo.yaml

  # Convert every Helm Operator HelmRelease of a cluster
  kubectl get helmreleases.helm.fluxcd.io -A -o yaml | gotk migrate helm-operator -f - > migrated.yaml

  # Put the HelmRepositories and GitRepositories in gotk-system
  gotk migrate helm-operator -f releases.yaml --source-namespace=gotk-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.files) == 0 {
				return errors.New("-f is required: a file with Helm Operator HelmReleases, or - for standard input")
			}
			if errs := validation.IsDNS1123Label(f.sourceNamespace); f.sourceNamespace != "" && len(errs) > 0 {
				return fmt.Errorf("--source-namespace %q is not a namespace name: %s", f.sourceNamespace, strings.Join(errs, "; "))
			}
			if f.interval <= 0 || f.sourceInterval <= 0 {
				return errors.New("--interval and --source-interval must be positive durations, such as 5m")
			}
			m := &migration{
				sourceNamespace: f.sourceNamespace,
				interval:        f.interval,
				sourceInterval:  f.sourceInterval,
				sources:         map[string]*migratedSource{},
				names:           map[string]string{},
			}
			for _, name := range f.files {
				if err := m.readFile(c.in, name); err != nil {
					return err
				}
			}
			for _, w := range m.warnings {
				c.status.warn("%s", w)
			}
			if len(m.errs) > 0 {
				return errors.Join(m.errs...)
			}
			if len(m.releases) == 0 {
				return fmt.Errorf("%s holds no Helm Operator HelmRelease", strings.Join(f.files, ", "))
			}
			return m.print(c.out)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "file", "f", nil, "File with Helm Operator HelmReleases, or - for standard input (repeatable).")
	fl.StringVar(&f.sourceNamespace, "source-namespace", "", "Namespace of the HelmRepositories and GitRepositories; the HelmRelease's when empty.")
	fl.DurationVar(&f.interval, "interval", 5*time.Minute, "spec.interval of the HelmReleases.")
	fl.DurationVar(&f.sourceInterval, "source-interval", 10*time.Minute, "spec.interval of the HelmRepositories and GitRepositories.")
	return cmd
}

// migration collects what the documents convert to.
type migration struct {
	sourceNamespace string
	interval        time.Duration
	sourceInterval  time.Duration

	releases []*helmv2.HelmRelease
	// sources are keyed by what makes two of them the same object; order
	// keeps them in the order they were first used.
	sources map[string]*migratedSource
	// names maps Kind/namespace/name to the key of the source that has it.
	names    map[string]string
	order    []string
	warnings []string
	errs     []error
}

// migratedSource is a HelmRepository or a GitRepository.
type migratedSource struct {
	obj  kruntime.Object
	name string
}

// readFile converts every document of one file ("-" is standard input).
func (m *migration) readFile(stdin io.Reader, name string) error {
	var r io.Reader
	label := name
	if name == "-" {
		r, label = stdin, "<stdin>"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	n := 0
	for {
		chunk, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", label, err)
		}
		if isBlankYAML(chunk) {
			continue
		}
		n++
		m.readDocument(chunk, fmt.Sprintf("%s: document %d", label, n))
	}
}

// isBlankYAML is true for a document with only comments and blank lines.
func isBlankYAML(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

func (m *migration) readDocument(doc []byte, where string) {
	data, err := yaml.YAMLToJSON(doc)
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("%s is not YAML: %w", where, err))
		return
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		m.errs = append(m.errs, fmt.Errorf("%s is not a YAML object", where))
		return
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "v1" && kind == "List" {
		items, _ := obj["items"].([]any)
		for i, item := range items {
			o, ok := item.(map[string]any)
			if !ok {
				m.errs = append(m.errs, fmt.Errorf("%s, item %d is not an object", where, i+1))
				continue
			}
			m.convert(o, fmt.Sprintf("%s, item %d", where, i+1))
		}
		return
	}
	m.convert(obj, where)
}

// convert turns one Helm Operator HelmRelease into a gotk HelmRelease and
// records its source. Errors and warnings name where and the field.
func (m *migration) convert(obj map[string]any, where string) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion != helmOperatorAPIVersion || kind != "HelmRelease" {
		what := strings.TrimSpace(apiVersion + " " + kind)
		if what == "" {
			what = "an object without apiVersion and kind"
		}
		hint := ""
		if apiVersion == "flux.weave.works/v1beta1" && kind == "HelmRelease" {
			hint = "; that is the Helm Operator's older API: change its apiVersion to " + helmOperatorAPIVersion + " first"
		}
		m.errs = append(m.errs, fmt.Errorf("%s is %s, not a %s HelmRelease%s", where, what, helmOperatorAPIVersion, hint))
		return
	}
	c := &converter{m: m, where: where}
	hr, src := c.convert(obj)
	if c.failed {
		return
	}
	if src != nil {
		m.addSource(src, hr)
	}
	m.releases = append(m.releases, hr)
}

// addSource records a HelmRelease's source once. Two different sources
// whose addresses give the same name tell apart by a hash of their key,
// and the HelmRelease refers to the name kept.
func (m *migration) addSource(src *convertedSource, hr *helmv2.HelmRelease) {
	ref := &hr.Spec.Chart.Spec.SourceRef
	if known, ok := m.sources[src.key]; ok {
		ref.Name = known.name
		return
	}
	o := src.obj.(metav1.Object)
	name := o.GetName()
	if other, taken := m.names[ref.Kind+"/"+o.GetNamespace()+"/"+name]; taken && other != src.key {
		sum := sha256.Sum256([]byte(src.key))
		name = sourceName(strings.TrimRight(name[:min(len(name), 54)], "-") + "-" + hex.EncodeToString(sum[:])[:8])
		o.SetName(name)
	}
	m.names[ref.Kind+"/"+o.GetNamespace()+"/"+name] = src.key
	m.sources[src.key] = &migratedSource{obj: src.obj, name: name}
	m.order = append(m.order, src.key)
	ref.Name = name
}

// print writes the sources, then the HelmReleases, as a YAML stream.
func (m *migration) print(w io.Writer) error {
	for _, key := range m.order {
		if err := printTypedYAML(w, m.sources[key].obj); err != nil {
			return err
		}
	}
	for _, hr := range m.releases {
		if err := printTypedYAML(w, hr); err != nil {
			return err
		}
	}
	return nil
}

// converter converts one HelmRelease; it reads the fields through object,
// which removes each field it reads, so that what is left over is reported.
type converter struct {
	m      *migration
	where  string
	failed bool
}

func (c *converter) warn(field, format string, args ...any) {
	c.m.warnings = append(c.m.warnings, fmt.Sprintf("%s: %s: %s", c.where, field, fmt.Sprintf(format, args...)))
}

func (c *converter) fail(field, format string, args ...any) {
	c.failed = true
	c.m.errs = append(c.m.errs, fmt.Errorf("%s: %s: %s", c.where, field, fmt.Sprintf(format, args...)))
}

// object is a map read field by field.
type object struct {
	c    *converter
	path string
	m    map[string]any
}

func (o object) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o object) take(key string) (any, bool) {
	v, ok := o.m[key]
	delete(o.m, key)
	if v == nil {
		return nil, false
	}
	return v, ok
}

func (o object) str(key string) string {
	v, ok := o.take(key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		o.c.fail(o.field(key), "want a string, got %s", jsonType(v))
	}
	return s
}

func (o object) boolean(key string) (value, set bool) {
	v, ok := o.take(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.c.fail(o.field(key), "want true or false, got %s", jsonType(v))
	}
	return b, true
}

func (o object) integer(key string) (int64, bool) {
	v, ok := o.take(key)
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		o.c.fail(o.field(key), "want an integer, got %s", jsonType(v))
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		o.c.fail(o.field(key), "want an integer, got %s", n)
		return 0, false
	}
	return i, true
}

// seconds reads a Helm Operator timeout, a number of seconds.
func (o object) seconds(key string) *metav1.Duration {
	n, ok := o.integer(key)
	if !ok {
		return nil
	}
	if n <= 0 {
		o.c.fail(o.field(key), "want a positive number of seconds, got %d", n)
		return nil
	}
	return &metav1.Duration{Duration: time.Duration(n) * time.Second}
}

func (o object) object(key string) (object, bool) {
	v, ok := o.take(key)
	if !ok {
		return object{c: o.c, path: o.field(key), m: map[string]any{}}, false
	}
	mv, isMap := v.(map[string]any)
	if !isMap {
		o.c.fail(o.field(key), "want an object, got %s", jsonType(v))
		return object{c: o.c, path: o.field(key), m: map[string]any{}}, false
	}
	return object{c: o.c, path: o.field(key), m: mv}, true
}

func (o object) list(key string) []object {
	v, ok := o.take(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		o.c.fail(o.field(key), "want a list, got %s", jsonType(v))
		return nil
	}
	out := make([]object, 0, len(l))
	for i, item := range l {
		p := fmt.Sprintf("%s[%d]", o.field(key), i)
		mv, isMap := item.(map[string]any)
		if !isMap {
			o.c.fail(p, "want an object, got %s", jsonType(item))
			continue
		}
		out = append(out, object{c: o.c, path: p, m: mv})
	}
	return out
}

// done reports every field nobody read as not converted.
func (o object) done() {
	for _, k := range sortedKeys(o.m) {
		o.c.warn(o.field(k), "not a Helm Operator field that gotk knows; not converted")
	}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("%t", v)
	case json.Number:
		return "the number " + v.String()
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// convertedSource is the source a HelmRelease's chart comes from, and the
// key under which it is shared.
type convertedSource struct {
	key string
	obj kruntime.Object
}

// flux v1 annotations with no meaning to gotk.
var fluxV1Annotation = regexp.MustCompile(`^([a-z.]*\.)?(fluxcd\.io|flux\.weave\.works)/`)

func (c *converter) convert(u map[string]any) (*helmv2.HelmRelease, *convertedSource) {
	root := object{c: c, m: u}
	root.str("apiVersion")
	root.str("kind")
	md, _ := root.object("metadata")
	name := md.str("name")
	if name == "" {
		c.fail("metadata.name", "is missing")
		return nil, nil
	}
	namespace := md.str("namespace")
	defaulted := namespace == ""
	if defaulted {
		namespace = "default"
	}
	c.where += fmt.Sprintf(" (HelmRelease %s/%s)", namespace, name)
	if defaulted {
		c.warn("metadata.namespace", "not set; the Helm Operator then used %q, and so does the conversion", namespace)
	}

	hr := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
	}
	hr.Spec.Interval = metav1.Duration{Duration: c.m.interval}
	c.metadata(md, hr)
	root.take("status")

	spec, ok := root.object("spec")
	if !ok {
		c.fail("spec", "is missing")
		return nil, nil
	}
	src := c.spec(spec, hr)
	root.done()
	return hr, src
}

// metadata copies labels and annotations, and drops what the API server
// or kubectl wrote.
func (c *converter) metadata(md object, hr *helmv2.HelmRelease) {
	labels, _ := md.object("labels")
	for _, k := range sortedKeys(labels.m) {
		if hr.Labels == nil {
			hr.Labels = map[string]string{}
		}
		hr.Labels[k] = labels.str(k)
	}
	ann, _ := md.object("annotations")
	for _, k := range sortedKeys(ann.m) {
		v := ann.str(k)
		switch {
		case k == "kubectl.kubernetes.io/last-applied-configuration":
		case fluxV1Annotation.MatchString(k):
			c.warn("metadata.annotations."+k, "a Flux v1 annotation, which gotk does not read; not converted")
		default:
			if hr.Annotations == nil {
				hr.Annotations = map[string]string{}
			}
			hr.Annotations[k] = v
		}
	}
	// What the API server sets on a stored object.
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "finalizers", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		md.take(k)
	}
	md.done()
}

func (c *converter) spec(spec object, hr *helmv2.HelmRelease) *convertedSource {
	s := &hr.Spec
	namespace := hr.Namespace

	switch v := spec.str("helmVersion"); v {
	case "", "v3":
	case "v2":
		c.warn("spec.helmVersion", "v2: gotk manages Helm 3 releases only; convert the release with the helm-2to3 plugin before gotk takes it over")
	default:
		c.warn("spec.helmVersion", "%q is not v2 or v3; not converted", v)
	}

	target := spec.str("targetNamespace")
	if target != "" && target != namespace {
		s.TargetNamespace = target
		// Helm 3 keeps a release's storage in the release's namespace.
		s.StorageNamespace = target
	}
	s.ReleaseName = spec.str("releaseName")
	if s.ReleaseName == "" {
		s.ReleaseName = helmOperatorReleaseName(namespace, target, hr.Name)
	}
	if len(s.ReleaseName) > helmv2.MaxReleaseNameLength {
		c.fail("spec.releaseName", "%q is longer than the %d characters Helm allows", s.ReleaseName, helmv2.MaxReleaseNameLength)
	}

	maxHistory := helmOperatorDefaultMaxHistory
	if n, ok := spec.integer("maxHistory"); ok {
		maxHistory = int(n)
	}
	s.MaxHistory = &maxHistory
	s.Timeout = spec.seconds("timeout")

	install := &helmv2.Install{
		// The Helm Operator uninstalled a failed install and tried again
		// at its next run, without end.
		Remediation: &helmv2.InstallRemediation{Retries: -1},
	}
	upgrade := &helmv2.Upgrade{}
	if wait, _ := spec.boolean("wait"); !wait {
		install.DisableWait = true
		upgrade.DisableWait = true
	}
	if skip, _ := spec.boolean("skipCRDs"); skip {
		install.CRDs = helmv2.Skip
	}
	if force, _ := spec.boolean("forceUpgrade"); force {
		upgrade.Force = true
	}
	if reset, set := spec.boolean("resetValues"); set && !reset {
		upgrade.PreserveValues = true
	}
	if v, _ := spec.boolean("disableOpenAPIValidation"); v {
		install.DisableOpenAPIValidation = true
		upgrade.DisableOpenAPIValidation = true
	}
	rollback, _ := spec.object("rollback")
	s.Rollback = c.rollback(rollback, upgrade)
	s.Install = install
	if !isZeroUpgrade(upgrade) {
		s.Upgrade = upgrade
	}

	test, _ := spec.object("test")
	s.Test = c.test(test)

	if v, ok := spec.take("values"); ok {
		if _, isMap := v.(map[string]any); !isMap {
			c.fail("spec.values", "want an object, got %s", jsonType(v))
		} else if raw, err := json.Marshal(v); err != nil {
			c.fail("spec.values", "%v", err)
		} else if string(raw) != "{}" {
			s.Values = &meta.JSON{Raw: raw}
		}
	}

	chart, ok := spec.object("chart")
	if !ok {
		c.fail("spec.chart", "is missing")
		spec.done()
		return nil
	}
	src := c.chart(chart, hr)
	c.valuesFrom(spec, hr)
	spec.done()
	return src
}

// helmOperatorReleaseName is the release name the Helm Operator gave a
// HelmRelease without spec.releaseName.
func helmOperatorReleaseName(namespace, target, name string) string {
	if target == "" || target == namespace {
		return namespace + "-" + name
	}
	return namespace + "-" + target + "-" + name
}

func isZeroUpgrade(u *helmv2.Upgrade) bool {
	return u.Remediation == nil && !u.DisableWait && !u.Force && !u.PreserveValues && !u.DisableOpenAPIValidation
}

// rollback converts spec.rollback: the Helm Operator's rollback of a
// failed upgrade becomes upgrade remediation.
func (c *converter) rollback(rb object, upgrade *helmv2.Upgrade) *helmv2.Rollback {
	enable, _ := rb.boolean("enable")
	retry, _ := rb.boolean("retry")
	maxRetries, maxSet := rb.integer("maxRetries")
	out := &helmv2.Rollback{}
	out.Force, _ = rb.boolean("force")
	out.Recreate, _ = rb.boolean("recreate")
	out.DisableHooks, _ = rb.boolean("disableHooks")
	out.Timeout = rb.seconds("timeout")
	wait, _ := rb.boolean("wait")
	out.DisableWait = !wait
	rb.done()
	if !enable {
		if retry || maxSet || out.Force || out.Recreate || out.DisableHooks || out.Timeout != nil || wait {
			c.warn("spec.rollback", "enable is not true, so the Helm Operator never rolled back and these options did nothing; not converted")
		}
		return nil
	}
	remediateLast := true
	r := &helmv2.UpgradeRemediation{RemediateLastFailure: &remediateLast}
	if retry {
		switch {
		case !maxSet:
			r.Retries = helmOperatorDefaultMaxRetries
		case maxRetries == 0:
			r.Retries = -1 // 0 meant without end
		default:
			r.Retries = int(maxRetries)
		}
	} else if maxSet {
		c.warn("spec.rollback.maxRetries", "has no effect without rollback.retry; not converted")
	}
	upgrade.Remediation = r
	return out
}

func (c *converter) test(t object) *helmv2.Test {
	out := &helmv2.Test{}
	out.Enable, _ = t.boolean("enable")
	out.IgnoreFailures, _ = t.boolean("ignoreFailures")
	out.Timeout = t.seconds("timeout")
	if cleanup, _ := t.boolean("cleanup"); cleanup {
		c.warn("spec.test.cleanup", "applies to Helm 2 only; not converted")
	}
	t.done()
	if !out.Enable && !out.IgnoreFailures && out.Timeout == nil {
		return nil
	}
	return out
}

// chart converts spec.chart into the HelmRelease's chart template and the
// source that holds the chart.
func (c *converter) chart(ch object, hr *helmv2.HelmRelease) *convertedSource {
	gitURL := ch.str("git")
	repoURL := ch.str("repository")
	srcNS := c.m.sourceNamespace
	if srcNS == "" {
		srcNS = hr.Namespace
	}
	tmpl := &helmv2.HelmChartTemplate{}
	hr.Spec.Chart = tmpl
	ref := &tmpl.Spec.SourceRef
	if srcNS != hr.Namespace {
		ref.Namespace = srcNS
	}
	var src *convertedSource
	switch {
	case gitURL != "" && repoURL != "":
		c.fail("spec.chart", "sets both git and repository; the Helm Operator takes one of them")
	case gitURL != "":
		src = c.gitChart(ch, gitURL, srcNS, tmpl)
	case repoURL != "":
		src = c.repoChart(ch, repoURL, srcNS, tmpl)
	default:
		c.fail("spec.chart", "sets neither git nor repository")
	}
	// The fields of the other kind of chart source, which the Helm
	// Operator ignored.
	other, kind := []string{"git", "ref", "path", "secretRef", "skipDepUpdate"}, "a chart from Git"
	if gitURL != "" {
		other, kind = []string{"repository", "name", "version", "chartPullSecret"}, "a chart from a Helm repository"
	}
	for _, k := range other {
		if _, ok := ch.take(k); ok {
			c.warn(ch.field(k), "applies to %s only; not converted", kind)
		}
	}
	ch.done()
	if src == nil {
		return nil
	}
	switch o := src.obj.(type) {
	case *sourcev1.GitRepository:
		ref.Kind, ref.Name = sourcev1.GitRepositoryKind, o.Name
	case *sourcev1.HelmRepository:
		ref.Kind, ref.Name = sourcev1.HelmRepositoryKind, o.Name
	}
	return src
}

func (c *converter) repoChart(ch object, repoURL, srcNS string, tmpl *helmv2.HelmChartTemplate) *convertedSource {
	tmpl.Spec.Chart = ch.str("name")
	if tmpl.Spec.Chart == "" {
		c.fail("spec.chart.name", "is missing: the chart's name in the repository")
	}
	tmpl.Spec.Version = ch.str("version")
	if tmpl.Spec.Version == "" {
		c.warn("spec.chart.version", "not set: gotk installs the newest version of the chart")
	}
	u, err := url.Parse(repoURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.fail("spec.chart.repository", "%q is not an http:// or https:// URL", repoURL)
		return nil
	}
	clean := strings.TrimRight(repoURL, "/")
	repo := &sourcev1.HelmRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: srcNS},
	}
	repo.Spec.URL = clean
	repo.Spec.Interval = metav1.Duration{Duration: c.m.sourceInterval}
	base := u.Host + strings.TrimRight(u.Path, "/")
	key := "HelmRepository/" + srcNS + "/" + clean
	if secret, ok := ch.object("chartPullSecret"); ok {
		name := secret.str("name")
		secret.done()
		if name != "" {
			repo.Spec.SecretRef = &meta.LocalObjectReference{Name: name}
			key += "/" + name
			c.warn("spec.chart.chartPullSecret", "the Helm Operator never used it; it becomes the HelmRepository's secretRef, so Secret %s/%s must hold username and password", srcNS, name)
		}
	}
	repo.Name = sourceName(base)
	return &convertedSource{key: key, obj: repo}
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (c *converter) gitChart(ch object, gitURL, srcNS string, tmpl *helmv2.HelmChartTemplate) *convertedSource {
	chartPath := ch.str("path")
	if chartPath == "" {
		c.fail("spec.chart.path", "is missing: the chart's path in the repository")
		chartPath = "."
	}
	tmpl.Spec.Chart = "./" + strings.TrimPrefix(path.Clean("/"+chartPath), "/")
	// The Helm Operator upgraded on every change to the chart's files;
	// gotk's default waits for a new chart version.
	tmpl.Spec.ReconcileStrategy = "Revision"

	u, host, repoPath, err := normalizeGitURL(gitURL)
	if err != nil {
		c.fail("spec.chart.git", "%v", err)
		return nil
	}
	repo := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: srcNS},
	}
	repo.Spec.URL = u
	repo.Spec.Interval = metav1.Duration{Duration: c.m.sourceInterval}
	gitRef := ch.str("ref")
	if gitRef == "" {
		gitRef = "master"
		c.warn("spec.chart.ref", "not set: the Helm Operator used master unless its --git-default-ref said otherwise; the GitRepository follows branch master")
	}
	r := &sourcev1.GitRepositoryRef{}
	switch {
	case commitSHA.MatchString(gitRef):
		r.Commit = gitRef
	case strings.HasPrefix(gitRef, "refs/heads/"):
		r.Branch = strings.TrimPrefix(gitRef, "refs/heads/")
	case strings.HasPrefix(gitRef, "refs/tags/"):
		r.Tag = strings.TrimPrefix(gitRef, "refs/tags/")
	case strings.HasPrefix(gitRef, "refs/"):
		r.Name = gitRef
	default:
		r.Branch = gitRef
	}
	repo.Spec.Reference = r
	short := strings.TrimPrefix(strings.TrimPrefix(gitRef, "refs/heads/"), "refs/tags/")
	base := host + "-" + repoPath + "-" + short
	key := "GitRepository/" + srcNS + "/" + u + "@" + gitRef
	if secret, ok := ch.object("secretRef"); ok {
		name := secret.str("name")
		if ns := secret.str("namespace"); ns != "" && ns != srcNS {
			c.warn("spec.chart.secretRef.namespace", "%q: a GitRepository reads its Secret from its own namespace; copy Secret %s/%s to %s", ns, ns, name, srcNS)
		}
		secret.done()
		if name != "" {
			repo.Spec.SecretRef = &meta.LocalObjectReference{Name: name}
			key += "/" + name
		}
	}
	if strings.HasPrefix(u, "ssh://") && repo.Spec.SecretRef == nil {
		c.warn("spec.chart.git", "an SSH URL without secretRef: the Helm Operator used its own key; give the GitRepository a Secret with identity and known_hosts (gotk create secret git)")
	}
	if skip, _ := ch.boolean("skipDepUpdate"); skip {
		c.warn("spec.chart.skipDepUpdate", "gotk always resolves the dependencies of a chart from Git; not converted")
	}
	repo.Name = sourceName(base)
	return &convertedSource{key: key, obj: repo}
}

// scpURL is Git's user@host:path form.
var scpURL = regexp.MustCompile(`^([a-zA-Z0-9._-]+@)?([a-zA-Z0-9.-]+):([^/][^:]*)$`)

// normalizeGitURL returns the URL a GitRepository accepts, its host and
// its path without ".git".
func normalizeGitURL(raw string) (u, host, repoPath string, err error) {
	if m := scpURL.FindStringSubmatch(raw); m != nil && !strings.Contains(raw, "://") {
		raw = "ssh://" + m[1] + m[2] + "/" + m[3]
	}
	p, perr := url.Parse(raw)
	if perr != nil || p.Host == "" {
		return "", "", "", fmt.Errorf("%q is not a Git URL", raw)
	}
	switch p.Scheme {
	case "http", "https", "ssh":
	default:
		return "", "", "", fmt.Errorf("%q: gotk clones over http, https and ssh only", raw)
	}
	return raw, p.Hostname(), strings.TrimSuffix(strings.Trim(p.Path, "/"), ".git"), nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// sourceName makes an object name from a repository's address: lower case
// letters, digits and dashes, at most 63 characters (a hash stands in for
// the end of a longer one).
func sourceName(base string) string {
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(base), "-"), "-")
	if name == "" {
		name = "source"
	}
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(name))
		name = strings.TrimRight(name[:54], "-") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return name
}

// valuesFrom converts spec.valueFileSecrets and spec.valuesFrom.
func (c *converter) valuesFrom(spec object, hr *helmv2.HelmRelease) {
	var refs []helmv2.ValuesReference
	for _, s := range spec.list("valueFileSecrets") {
		if name := s.str("name"); name != "" {
			refs = append(refs, helmv2.ValuesReference{Kind: "Secret", Name: name})
		}
		s.done()
	}
	type fileRef struct {
		path     string
		optional bool
		afterRef bool
	}
	var files []fileRef
	for _, v := range spec.list("valuesFrom") {
		found := 0
		if cm, ok := v.object("configMapKeyRef"); ok {
			found++
			refs = append(refs, c.keyRef(cm, "ConfigMap", hr.Namespace))
		}
		if s, ok := v.object("secretKeyRef"); ok {
			found++
			refs = append(refs, c.keyRef(s, "Secret", hr.Namespace))
		}
		if ext, ok := v.object("externalSourceRef"); ok {
			found++
			c.warn(ext.path, "values from a URL (%s) are not supported by gotk; put them in a ConfigMap or Secret and list it in valuesFrom", ext.str("url"))
			ext.take("optional")
			ext.done()
		}
		if cf, ok := v.object("chartFileRef"); ok {
			found++
			p := cf.str("path")
			opt, _ := cf.boolean("optional")
			cf.done()
			if p == "" {
				c.fail(cf.field("path"), "is missing")
			} else {
				files = append(files, fileRef{path: p, optional: opt, afterRef: len(refs) > 0})
			}
		}
		if found != 1 {
			c.warn(v.path, "holds %d of configMapKeyRef, secretKeyRef, externalSourceRef and chartFileRef; the Helm Operator reads one", found)
		}
		v.done()
	}
	hr.Spec.ValuesFrom = refs
	if len(files) == 0 {
		return
	}
	// A chart file replaces the chart's values.yaml in gotk, where the
	// Helm Operator merged it over them: list values.yaml first. Paths are
	// relative to the chart in a Helm repository, to the repository root
	// in Git.
	spec2 := &hr.Spec.Chart.Spec
	base := ""
	if hr.Spec.Chart.Spec.SourceRef.Kind == sourcev1.GitRepositoryKind {
		base = spec2.Chart
	}
	join := func(p string) string {
		if base == "" {
			return strings.TrimPrefix(path.Clean("/"+p), "/")
		}
		return path.Join(base, p)
	}
	spec2.ValuesFiles = []string{join("values.yaml")}
	optional := 0
	for _, f := range files {
		spec2.ValuesFiles = append(spec2.ValuesFiles, join(f.path))
		if f.optional {
			optional++
		}
		if f.afterRef {
			c.warn("spec.valuesFrom", "chartFileRef %s follows a ConfigMap or Secret reference: in gotk chart files are merged first, below every valuesFrom entry", f.path)
		}
	}
	switch {
	case optional == len(files):
		spec2.IgnoreMissingValuesFiles = true
	case optional > 0:
		c.warn("spec.valuesFrom", "some chartFileRefs are optional and some are not; gotk has one switch for all (chart.spec.ignoreMissingValuesFiles), left false: every file must exist")
	}
}

// keyRef converts a configMapKeyRef or secretKeyRef.
func (c *converter) keyRef(o object, kind, namespace string) helmv2.ValuesReference {
	ref := helmv2.ValuesReference{Kind: kind, Name: o.str("name")}
	if ref.Name == "" {
		c.fail(o.field("name"), "is missing")
	}
	if key := o.str("key"); key != "" && key != "values.yaml" {
		ref.ValuesKey = key
	}
	ref.Optional, _ = o.boolean("optional")
	if ns := o.str("namespace"); ns != "" && ns != namespace {
		c.warn(o.field("namespace"), "%q: gotk reads values from the HelmRelease's namespace only; copy %s %s/%s to %s", ns, kind, ns, ref.Name, namespace)
	}
	o.done()
	return ref
}
