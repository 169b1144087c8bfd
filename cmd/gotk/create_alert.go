package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1beta3 "github.com/gotk-dev/gotk/api/notification/v1beta3"
	"github.com/gotk-dev/gotk/internal/notify"
)

// The notification kinds the alert commands work on.
var (
	providerKind = mustKind(notificationv1beta3.ProviderKind)
	alertKind    = mustKind(notificationv1beta3.AlertKind)
)

// alertSourceKinds are the kinds an Alert's eventSources may name.
var alertSourceKinds = []string{"Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
	"ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository", "ArtifactGenerator", "ExternalArtifact"}

type providerFlags struct {
	createFlags
	typ, channel, username, address, secretRef, certSecretRef, proxySecretRef string
}

func newCreateAlertProviderCmd(c *cli) *cobra.Command {
	f := &providerFlags{}
	cmd := &cobra.Command{
		Use:   "alert-provider NAME",
		Short: "Create or update a Provider that Alerts send events to",
		Long: `Create or update a Provider: where the notification controller delivers the
events that Alerts select, such as a Slack channel, a Teams workflow, a generic
webhook, or a Git host that receives commit statuses. Then wait until it is
Ready, which means its type is supported and its Secrets can be read.

--address is the URL to deliver to; keep webhook URLs that carry a secret out
of the spec with --secret-ref, a Secret whose "address" key holds it, and
whose "token", "username", "password" and "headers" keys hold credentials.
See docs/notifications.md for every type.`,
		Example: `  # A Slack incoming webhook, its URL in the Secret slack-url (key "address")
  kubectl create secret generic slack-url --from-literal=address=https://hooks.slack.com/services/T0/B0/XXX
  gotk create alert-provider slack --type=slack --channel=ops --secret-ref=slack-url

  # A generic webhook in the cluster
  gotk create alert-provider sink --type=generic --address=http://webhook.apps.svc/hook

  # Commit statuses on a GitHub repository, with a token in the Secret github-token
  gotk create alert-provider github --type=github --address=https://github.com/org/app --secret-ref=github-token`,
		Args: exactlyOneName("Provider"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateNotification(cmd.Context(), c, providerKind, obj, f.createFlags)
		},
	}
	f.bind(cmd, "Provider")
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", "", "Type of the service: "+strings.Join(notify.Types(), ", ")+".")
	fl.StringVar(&f.channel, "channel", "", "Channel, room or chat to post to, for the types that have one.")
	fl.StringVar(&f.username, "username", "", "Name to post as, where the service lets the sender choose.")
	fl.StringVar(&f.address, "address", "", "URL to deliver to (a webhook, an API, or a repository for commit statuses).")
	fl.StringVar(&f.secretRef, "secret-ref", "", `Secret with "address", "token", "username", "password" or "headers".`)
	fl.StringVar(&f.certSecretRef, "cert-secret-ref", "", `Secret with "ca.crt" to trust, and "tls.crt" and "tls.key" for a client certificate.`)
	fl.StringVar(&f.proxySecretRef, "proxy-secret-ref", "", `Secret with the proxy's "address", and "username" and "password".`)
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(notify.Types(), cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = c.completeNames(providerKind)
	return cmd
}

// build turns the flags into a Provider.
func (f *providerFlags) build(name, namespace string) (*notificationv1beta3.Provider, error) {
	if f.typ == "" {
		return nil, fmt.Errorf("--type is required: one of %s", strings.Join(notify.Types(), ", "))
	}
	if !notify.Supported(f.typ) {
		return nil, fmt.Errorf("--type %q is not supported: use one of %s", f.typ, strings.Join(notify.Types(), ", "))
	}
	if f.address == "" && f.secretRef == "" {
		return nil, errors.New("--address or --secret-ref is required: the URL to deliver to, or a Secret whose \"address\" key holds it")
	}
	if f.address != "" {
		if u, err := url.Parse(f.address); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("--address %q is not a URL, such as https://hooks.slack.com/services/...", f.address)
		}
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &notificationv1beta3.Provider{
		TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1beta3.GroupVersion.String(), Kind: notificationv1beta3.ProviderKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: notificationv1beta3.ProviderSpec{
			Type:     f.typ,
			Channel:  f.channel,
			Username: f.username,
			Address:  f.address,
		},
	}
	for flag, ref := range map[string]**meta.LocalObjectReference{
		"secret-ref": &obj.Spec.SecretRef, "cert-secret-ref": &obj.Spec.CertSecretRef, "proxy-secret-ref": &obj.Spec.ProxySecretRef,
	} {
		v := map[string]string{"secret-ref": f.secretRef, "cert-secret-ref": f.certSecretRef, "proxy-secret-ref": f.proxySecretRef}[flag]
		if v == "" {
			continue
		}
		if err := validateName("Secret", v); err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		*ref = &meta.LocalObjectReference{Name: v}
	}
	return obj, nil
}

type alertFlags struct {
	createFlags
	providerRef, severity         string
	sources, inclusion, exclusion []string
	summary                       string
}

func newCreateAlertCmd(c *cli) *cobra.Command {
	f := &alertFlags{}
	cmd := &cobra.Command{
		Use:   "alert NAME",
		Short: "Create or update an Alert that sends events to a Provider",
		Long: `Create or update an Alert: which objects' events the notification controller
sends to a Provider of the same namespace. Then wait until it is Ready, which
means the Provider exists and is Ready.

--event-source names the objects as Kind/name[.namespace] (repeatable); a name
of * selects every object of the kind, and the namespace defaults to the
Alert's. --event-severity error sends only failures; info (the default) sends
everything.`,
		Example: `  # Failures of every Kustomization and GitRepository of the namespace, to Slack
  gotk create alert ops --provider-ref=slack --event-severity=error \
    --event-source='Kustomization/*' --event-source='GitRepository/*'

  # Everything about one HelmRelease of another namespace
  gotk create alert podinfo --provider-ref=sink --event-source=HelmRelease/podinfo.apps`,
		Args: exactlyOneName("Alert"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateNotification(cmd.Context(), c, alertKind, obj, f.createFlags)
		},
	}
	f.bind(cmd, "Alert")
	fl := cmd.Flags()
	fl.StringVar(&f.providerRef, "provider-ref", "", "Provider of the Alert's namespace to send the events to.")
	fl.StringVar(&f.severity, "event-severity", "info", "Lowest severity sent: info (everything) or error (failures only).")
	fl.StringSliceVar(&f.sources, "event-source", nil, "Objects whose events are sent, as Kind/name[.namespace]; name may be * (repeatable).")
	fl.StringSliceVar(&f.inclusion, "inclusion", nil, "Send only events whose message matches one of these regular expressions (repeatable).")
	fl.StringSliceVar(&f.exclusion, "exclusion", nil, "Drop events whose message matches one of these regular expressions (repeatable).")
	fl.StringVar(&f.summary, "summary", "", "Short text added to every event as the \"summary\" metadata.")
	_ = cmd.RegisterFlagCompletionFunc("provider-ref", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return c.completeNames(providerKind)(cmd, nil, toComplete)
	})
	_ = cmd.RegisterFlagCompletionFunc("event-severity", cobra.FixedCompletions([]string{"info", "error"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = c.completeNames(alertKind)
	return cmd
}

// build turns the flags into an Alert.
func (f *alertFlags) build(name, namespace string) (*notificationv1beta3.Alert, error) {
	if f.providerRef == "" {
		return nil, errors.New("--provider-ref is required: the Provider to send the events to")
	}
	if err := validateName("Provider", f.providerRef); err != nil {
		return nil, fmt.Errorf("--provider-ref: %w", err)
	}
	if f.severity != "info" && f.severity != "error" {
		return nil, fmt.Errorf("--event-severity %q: use info or error", f.severity)
	}
	if len(f.sources) == 0 {
		return nil, errors.New("--event-source is required: the objects whose events to send, such as --event-source='Kustomization/*'")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &notificationv1beta3.Alert{
		TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1beta3.GroupVersion.String(), Kind: notificationv1beta3.AlertKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: notificationv1beta3.AlertSpec{
			ProviderRef:   meta.LocalObjectReference{Name: f.providerRef},
			EventSeverity: f.severity,
			InclusionList: f.inclusion,
			ExclusionList: f.exclusion,
		},
	}
	if f.summary != "" {
		obj.Spec.EventMetadata = map[string]string{"summary": f.summary}
	}
	for _, s := range f.sources {
		ref, err := parseEventSource(s)
		if err != nil {
			return nil, err
		}
		obj.Spec.EventSources = append(obj.Spec.EventSources, ref)
	}
	return obj, nil
}

// parseEventSource reads --event-source: Kind/name[.namespace].
func parseEventSource(s string) (notificationv1beta3.CrossNamespaceObjectReference, error) {
	kind, rest, found := strings.Cut(s, "/")
	if !found || kind == "" || rest == "" {
		return notificationv1beta3.CrossNamespaceObjectReference{}, fmt.Errorf("--event-source %q: use Kind/name[.namespace], such as Kustomization/podinfo or 'GitRepository/*'", s)
	}
	canonical := ""
	if k, ok := lookupKind(kind); ok {
		canonical = k.Kind()
	}
	if !slices.Contains(alertSourceKinds, canonical) {
		return notificationv1beta3.CrossNamespaceObjectReference{}, fmt.Errorf("--event-source %q: kind %q sends no events; use one of %s", s, kind, strings.Join(alertSourceKinds, ", "))
	}
	name, ns := splitNameNamespace(rest)
	if name == "" || (ns != "" && len(validation.IsDNS1123Label(ns)) > 0) {
		return notificationv1beta3.CrossNamespaceObjectReference{}, fmt.Errorf("--event-source %q: use Kind/name[.namespace]", s)
	}
	return notificationv1beta3.CrossNamespaceObjectReference{Kind: canonical, Name: name, Namespace: ns}, nil
}

// runCreateNotification applies a Provider or an Alert and waits until it
// is Ready.
func runCreateNotification(ctx context.Context, c *cli, k gotkKind, obj client.Object, f createFlags) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	if a, ok := obj.(*notificationv1beta3.Alert); ok {
		p := newObject(providerKind)
		if err := cl.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: a.Spec.ProviderRef.Name}, p); err != nil {
			c.status.warn("Provider %s/%s not found: the Alert is not Ready until it exists", key.Namespace, a.Spec.ProviderRef.Name)
		}
	}
	c.status.step("applying %s %s", k.Kind(), key)
	created, err := applyTyped(ctx, cl, obj)
	if err != nil {
		return err
	}
	c.status.ok("%s %s %s", k.Kind(), key, createdOrConfigured(created))
	_, err = c.waitFor(ctx, cl, k, key, waitOptions{timeout: f.timeout})
	return err
}
