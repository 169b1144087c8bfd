// Package notify delivers the events of gotk's controllers to the services
// that Providers name: chat services, incident services, generic webhooks,
// and Git hosts that receive commit statuses. Each provider type lives in
// a file of its own behind the Notifier interface; New picks one by type.
package notify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gotk-dev/gotk/internal/runtime"
)

// Event is what a Notifier delivers: the event a controller posted, with
// its metadata keys stripped of the API group and the Alert's
// eventMetadata and summary merged in.
type Event = runtime.Event

// Notifier delivers events to one service.
type Notifier interface {
	// Post delivers ev. An error wrapping ErrSkipped means the event does
	// not apply to this service (such as a commit status for an event
	// without a commit); any other error is a failed delivery.
	Post(ctx context.Context, ev Event) error
}

// ErrSkipped marks events a Notifier chose not to deliver.
var ErrSkipped = errors.New("not delivered")

func skipped(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSkipped, fmt.Sprintf(format, args...))
}

// Options configure a Notifier: the Provider's spec and the credentials
// its Secrets hold.
type Options struct {
	// Type is spec.type.
	Type string
	// Address is spec.address, or the "address" key of spec.secretRef.
	Address string
	// Channel and Username are spec.channel and spec.username.
	Channel  string
	Username string
	// Token, User and Password come from spec.secretRef's "token",
	// "username" and "password" keys.
	Token    string
	User     string
	Password string
	// Headers are the extra HTTP headers of spec.secretRef's "headers".
	Headers map[string]string
	// ProviderUID names the Provider in default commit status names.
	ProviderUID string
	// CommitStatus returns the commit status name (context) of an event:
	// spec.commitStatusExpr evaluated on it. Nil takes the default,
	// "<kind>/<name>/<first part of the Provider's UID>".
	CommitStatus func(Event) (string, error)
	// Client sends the requests; nil takes a default Client.
	Client *Client
}

type factory func(o Options) (Notifier, error)

// factories maps each supported spec.type to its constructor.
var factories = map[string]factory{}

func register(typ string, f factory) { factories[typ] = f }

// Types returns the supported provider types, sorted.
func Types() []string {
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Supported reports whether New knows typ.
func Supported(typ string) bool {
	_, ok := factories[typ]
	return ok
}

// CommitStatusTypes are the types that set commit statuses, for which
// spec.commitStatusExpr applies.
var CommitStatusTypes = map[string]bool{
	"github": true, "gitlab": true, "gitea": true, "bitbucket": true, "bitbucketserver": true, "azuredevops": true,
}

// New returns the Notifier of o.Type.
func New(o Options) (Notifier, error) {
	f, ok := factories[o.Type]
	if !ok {
		return nil, fmt.Errorf("provider type %q is not supported; supported types: %s", o.Type, strings.Join(Types(), ", "))
	}
	if o.Client == nil {
		o.Client = NewClient(ClientOptions{})
	}
	if o.CommitStatus == nil {
		uid := o.ProviderUID
		o.CommitStatus = func(ev Event) (string, error) { return DefaultCommitStatus(uid, ev), nil }
	}
	return f(o)
}

// objectName is how messages name the object of an event:
// "kustomization/podinfo.default".
func objectName(ev Event) string {
	o := ev.InvolvedObject
	return fmt.Sprintf("%s/%s.%s", strings.ToLower(o.Kind), o.Name, o.Namespace)
}

// metadataKeys returns the keys of ev.Metadata sorted, with "summary"
// first, so that messages list them in a stable order.
func metadataKeys(ev Event) []string {
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		if k != "summary" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := ev.Metadata["summary"]; ok {
		keys = append([]string{"summary"}, keys...)
	}
	return keys
}

// isError reports an event of severity error.
func isError(ev Event) bool { return ev.Severity == runtime.SeverityError }

// requireAddress returns an error naming the field when addr is empty.
func requireAddress(o Options) error {
	if strings.TrimSpace(o.Address) == "" {
		return fmt.Errorf("provider type %s needs spec.address or an \"address\" key in spec.secretRef", o.Type)
	}
	return nil
}

func requireToken(o Options) error {
	if o.Token == "" {
		return fmt.Errorf("provider type %s needs a \"token\" key in spec.secretRef", o.Type)
	}
	return nil
}

func requireChannel(o Options) error {
	if o.Channel == "" {
		return fmt.Errorf("provider type %s needs spec.channel", o.Type)
	}
	return nil
}
