package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gotk-dev/gotk/api/meta"
	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
	"github.com/gotk-dev/gotk/internal/receiver"
)

var receiverKind = mustKind(notificationv1.ReceiverKind)

// receiverTypes are the types gotk create receiver accepts: every type of
// the API that this build can verify.
var receiverTypes = []string{
	notificationv1.GenericReceiver, notificationv1.GenericHMACReceiver, notificationv1.GitHubReceiver,
	notificationv1.GitLabReceiver, notificationv1.BitbucketReceiver, notificationv1.HarborReceiver,
	notificationv1.DockerHubReceiver, notificationv1.QuayReceiver, notificationv1.GCRReceiver, notificationv1.NexusReceiver,
	notificationv1.ACRReceiver, notificationv1.CDEventsReceiver,
}

type receiverFlags struct {
	createFlags
	typ, secretRef, resourceFilter, webhookURL string
	events, resources                          []string
	interval                                   time.Duration
}

func newCreateReceiverCmd(c *cli) *cobra.Command {
	f := &receiverFlags{}
	cmd := &cobra.Command{
		Use:   "receiver NAME",
		Short: "Create or update a Receiver and print its webhook URL",
		Long: `Create or update a Receiver: a webhook that makes gotk reconcile the objects
it names as soon as a Git host, a registry or a CI system calls it, instead of
at their next interval.

--type is the sender (` + strings.Join(receiverTypes, ", ") + `).
--secret-ref names the Secret whose "token" key authenticates the calls (make
one with gotk create secret receiver). --resource names what to reconcile, as
Kind/name[.namespace] (repeatable). --event keeps only those events, such as
push for GitHub or "Push Hook" for GitLab (repeatable).

Once the Receiver is Ready, the command prints its webhook path, which the
controller derives from the token, name and namespace; with --webhook-url it
prints the whole URL to paste into the sender, such as GitHub's Payload URL.
docs/receivers.md says how to expose the webhook server (port 9292, Service
webhook-receiver).`,
		Example: `  # A token, and a Receiver for GitHub push events that fetches a GitRepository
  gotk create secret receiver github-token
  gotk create receiver github --type=github --event=ping --event=push \
    --resource=GitRepository/podinfo --secret-ref=github-token \
    --webhook-url=https://gotk-webhook.example.com

  # GitLab, for a GitRepository and the Kustomization that applies it
  gotk create receiver gitlab --type=gitlab --event="Push Hook" \
    --resource=GitRepository/podinfo --resource=Kustomization/podinfo --secret-ref=gitlab-token

  # Print the YAML instead of applying it
  gotk create receiver github --type=github --resource=GitRepository/podinfo --secret-ref=github-token --export`,
		Args: exactlyOneName("Receiver"),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := f.build(args[0], c.objectNamespace(cmd))
			if err != nil {
				return err
			}
			if f.export {
				return printTypedYAML(c.out, obj)
			}
			return runCreateReceiver(cmd.Context(), c, f, obj)
		},
	}
	f.bind(cmd, "Receiver")
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", "", "Sender of the webhooks: "+strings.Join(receiverTypes, ", ")+".")
	fl.StringArrayVar(&f.events, "event", nil, "Event to act on, such as push (repeatable); none means every event.")
	fl.StringArrayVar(&f.resources, "resource", nil, "Object to reconcile, as Kind/name[.namespace] (repeatable).")
	fl.StringVar(&f.secretRef, "secret-ref", "", "Secret in the Receiver's namespace whose \"token\" key authenticates the webhooks.")
	fl.StringVar(&f.resourceFilter, "resource-filter", "", "CEL expression over res (the object) and req (the JSON body) that must be true for an object to be reconciled.")
	fl.StringVar(&f.webhookURL, "webhook-url", "", "Public base URL of the webhook server, such as https://gotk-webhook.example.com, to print the whole webhook URL.")
	fl.DurationVar(&f.interval, "interval", notificationv1.DefaultReceiverInterval, "How often the controller reads the token Secret again.")
	_ = cmd.RegisterFlagCompletionFunc("type", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return receiverTypes, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.ValidArgsFunction = c.completeNames(receiverKind)
	return cmd
}

// build turns the flags into a Receiver.
func (f *receiverFlags) build(name, namespace string) (*notificationv1.Receiver, error) {
	known := false
	for _, t := range receiverTypes {
		known = known || t == f.typ
	}
	if !known {
		if msg := receiver.Unsupported(f.typ); msg != "" {
			return nil, fmt.Errorf("--type: %s", msg)
		}
		return nil, fmt.Errorf("--type %q: use one of %s", f.typ, strings.Join(receiverTypes, ", "))
	}
	if f.secretRef == "" {
		return nil, errors.New("--secret-ref is required: the Secret whose token key authenticates the webhooks (gotk create secret receiver NAME makes one)")
	}
	if err := validateName("Secret", f.secretRef); err != nil {
		return nil, fmt.Errorf("--secret-ref: %w", err)
	}
	if len(f.resources) == 0 {
		return nil, errors.New("--resource is required: the object to reconcile, such as --resource=GitRepository/podinfo")
	}
	if f.interval <= 0 {
		return nil, errors.New("--interval must be positive, such as 10m")
	}
	labels, err := f.parseLabels()
	if err != nil {
		return nil, err
	}
	obj := &notificationv1.Receiver{
		TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1.GroupVersion.String(), Kind: notificationv1.ReceiverKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: notificationv1.ReceiverSpec{
			Type:           f.typ,
			Interval:       &metav1.Duration{Duration: f.interval},
			Events:         f.events,
			SecretRef:      &meta.LocalObjectReference{Name: f.secretRef},
			ResourceFilter: f.resourceFilter,
		},
	}
	for _, r := range f.resources {
		res, err := parseReceiverResource(r)
		if err != nil {
			return nil, err
		}
		obj.Spec.Resources = append(obj.Spec.Resources, res)
	}
	if err := receiver.Validate(obj, false); err != nil {
		return nil, err
	}
	return obj, nil
}

// parseReceiverResource reads --resource: Kind/name[.namespace].
func parseReceiverResource(s string) (notificationv1.ReceiverResource, error) {
	kind, rest, found := strings.Cut(s, "/")
	name, ns := splitNameNamespace(rest)
	if !found || name == "" {
		return notificationv1.ReceiverResource{}, fmt.Errorf("--resource %q: use Kind/name[.namespace], such as GitRepository/podinfo", s)
	}
	k, ok := lookupKind(kind)
	if !ok {
		return notificationv1.ReceiverResource{}, fmt.Errorf("--resource %q: %q is not a gotk kind (%s)", s, kind, strings.Join(kindNames(), ", "))
	}
	if err := validateName(k.Kind(), name); err != nil {
		return notificationv1.ReceiverResource{}, fmt.Errorf("--resource %q: %w", s, err)
	}
	return notificationv1.ReceiverResource{APIVersion: k.GVK.GroupVersion().String(), Kind: k.Kind(), Name: name, Namespace: ns}, nil
}

func runCreateReceiver(ctx context.Context, c *cli, f *receiverFlags, obj *notificationv1.Receiver) error {
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	c.status.step("applying Receiver %s", key)
	created, err := applyTyped(ctx, cl, obj)
	if err != nil {
		return err
	}
	c.status.ok("Receiver %s %s", key, createdOrConfigured(created))
	u, err := c.waitFor(ctx, cl, receiverKind, key, waitOptions{timeout: f.timeout})
	if err != nil {
		return err
	}
	path, _, _ := unstructured.NestedString(u.Object, "status", "webhookPath")
	if f.webhookURL == "" {
		c.status.ok("webhook path %s", path)
		fmt.Fprintln(c.out, path)
		c.status.step("prefix it with the public address of the webhook-receiver Service (or pass --webhook-url) to get the URL to give the sender")
		return nil
	}
	url := strings.TrimSuffix(f.webhookURL, "/") + path
	c.status.ok("webhook URL %s", url)
	fmt.Fprintln(c.out, url)
	if f.typ == notificationv1.GitHubReceiver {
		c.status.step("in GitHub: Payload URL %s, Content type application/json, Secret: the token of Secret %s/%s", url, key.Namespace, f.secretRef)
	}
	return nil
}

type secretReceiverFlags struct {
	token, email, audience string
	export                 bool
	labels                 []string
}

func newCreateSecretReceiverCmd(c *cli) *cobra.Command {
	f := &secretReceiverFlags{}
	cmd := &cobra.Command{
		Use:   "receiver NAME",
		Short: "Create or update the Secret that holds a Receiver's token",
		Long: `Create or update a Secret with the "token" key that a Receiver reads: the
shared secret the sender signs its webhooks with (GitHub, Bitbucket, Nexus,
generic-hmac) or sends as is (GitLab's X-Gitlab-Token, Harbor's Authorization
header). The token also seeds the Receiver's webhook path. A gcr Receiver also
reads "email" (--email: the service account of the Pub/Sub push subscription)
and "audience" (--audience: the audience its tokens carry).

Without --token a random one of 40 hex digits is generated. The token is never
printed; read it back to configure the sender:

  kubectl -n NAMESPACE get secret NAME -o jsonpath='{.data.token}' | base64 -d`,
		Example: `  # A generated token
  gotk create secret receiver github-token

  # A token of your own
  gotk create secret receiver github-token --token="$WEBHOOK_SECRET"

  # For a gcr Receiver
  gotk create secret receiver gcr-token --email=push@my-project.iam.gserviceaccount.com \
    --audience=https://gotk-webhook.example.com`,
		Args: exactlyOneName("Secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := f.token
			generated := token == ""
			if generated {
				b := make([]byte, 20)
				if _, err := rand.Read(b); err != nil {
					return fmt.Errorf("generate a token: %w", err)
				}
				token = hex.EncodeToString(b)
			}
			labels, err := parseLabels(f.labels)
			if err != nil {
				return err
			}
			ns := c.objectNamespace(cmd)
			if (f.email == "") != (f.audience == "") {
				return errors.New("--email and --audience go together: a gcr Receiver needs both")
			}
			data := map[string][]byte{"token": []byte(token)}
			if f.email != "" {
				data["email"], data["audience"] = []byte(f.email), []byte(f.audience)
			}
			s := newSecret(args[0], ns, labels, data)
			if err := exportOrApplySecret(cmd.Context(), c, f.export, s); err != nil {
				return err
			}
			if generated && !f.export {
				c.status.step("generated a token; read it with: kubectl -n %s get secret %s -o jsonpath='{.data.token}' | base64 -d", ns, args[0])
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.token, "token", "", "The token; a random one is generated when not given.")
	fl.StringVar(&f.email, "email", "", "gcr: service account email of the Pub/Sub push subscription.")
	fl.StringVar(&f.audience, "audience", "", "gcr: audience of the push subscription's tokens.")
	fl.BoolVar(&f.export, "export", false, "Print the Secret as YAML instead of applying it.")
	fl.StringSliceVar(&f.labels, "label", nil, "Labels to set, as key=value (repeat the flag or separate with commas).")
	return cmd
}

// The listing, suspend, resume, delete and export commands of Receivers.

func newGetReceiversCmd(c *cli, f *getFlags) *cobra.Command {
	return newGetKindCmd(c, f, receiverKind, &cobra.Command{
		Use:     "receivers [NAME]",
		Aliases: []string{"receiver", "rcv"},
		Short:   "List Receivers",
		Example: `  # The Receivers of the current namespace
  gotk get receivers

  # In every namespace
  gotk get receivers -A`,
	})
}

func newToggleReceiverCmd(c *cli, f *toggleFlags, resume bool) *cobra.Command {
	verb := "suspend"
	if resume {
		verb = "resume"
	}
	return toggleKindCmd(c, f, receiverKind, resume, &cobra.Command{
		Use:   "receiver [NAME...]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " Receivers",
		Example: fmt.Sprintf(`  # One
  gotk %[1]s receiver github

  # All of the namespace
  gotk %[1]s receiver --all -n gotk-system`, verb),
	})
}

func newDeleteReceiverCmd(c *cli, silent *bool) *cobra.Command {
	return deleteKindCmd(c, silent, receiverKind, &cobra.Command{
		Use:   "receiver NAME",
		Short: "Delete a Receiver",
		Example: `  # Asks first
  gotk delete receiver github`,
	})
}

func newExportReceiverCmd(c *cli, all *bool) *cobra.Command {
	return exportKindCmd(c, all, receiverKind, &cobra.Command{
		Use:     "receiver [NAME]",
		Aliases: []string{"receivers"},
		Short:   "Export Receivers",
		Example: `  # One
  gotk export receiver github

  # All of the namespace
  gotk export receiver --all`,
	})
}
