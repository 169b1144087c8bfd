package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func init() { register("zulip", newZulip) }

// zulip sends a stream message through the Zulip REST API, as a bot whose
// email and API key are the username and password of spec.secretRef. The
// channel is "<stream>/<topic>".
type zulip struct {
	o      Options
	url    string
	stream string
	topic  string
}

func newZulip(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	stream, topic, ok := strings.Cut(o.Channel, "/")
	if !ok || stream == "" || topic == "" {
		return nil, fmt.Errorf("provider type zulip: spec.channel %q must be <stream>/<topic>", o.Channel)
	}
	if o.User == "" || o.Password == "" {
		return nil, fmt.Errorf("provider type zulip needs \"username\" (the bot's email) and \"password\" (its API key) in spec.secretRef")
	}
	u.Path = "/api/v1/messages"
	return &zulip{o: o, url: u.String(), stream: stream, topic: topic}, nil
}

func zulipContent(ev Event) string {
	emoji := "💫"
	if isError(ev) {
		emoji = "🚨"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s**\n\n%s\n", emoji, objectName(ev), ev.Message)
	if keys := metadataKeys(ev); len(keys) > 0 {
		b.WriteString("\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "- **%s**: %s\n", k, ev.Metadata[k])
		}
	}
	return b.String()
}

func (z *zulip) Post(ctx context.Context, ev Event) error {
	form := url.Values{
		"type":    {"stream"},
		"to":      {z.stream},
		"topic":   {z.topic},
		"content": {zulipContent(ev)},
	}
	r := &request{method: http.MethodPost, url: z.url, body: []byte(form.Encode()), header: http.Header{},
		user: z.o.User, pass: z.o.Password, headers: z.o.Headers}
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, _, err := z.o.Client.do(ctx, r)
	return err
}
