package notify

import (
	"context"
	"fmt"
	"strings"
)

// webexMessages is the Webex messages API; spec.address replaces it.
const webexMessages = "https://webexapis.com/v1/messages"

func init() { register("webex", newWebex) }

// webex posts a markdown message to a room (spec.channel, the room ID)
// as a bot (the token).
type webex struct {
	o   Options
	url string
}

type webexMessage struct {
	RoomID   string `json:"roomId"`
	Markdown string `json:"markdown"`
}

func newWebex(o Options) (Notifier, error) {
	if err := requireToken(o); err != nil {
		return nil, err
	}
	if err := requireChannel(o); err != nil {
		return nil, err
	}
	addr := o.Address
	if addr == "" {
		addr = webexMessages
	}
	u, err := parseURL(o, addr)
	if err != nil {
		return nil, err
	}
	return &webex{o: o, url: u.String()}, nil
}

func webexMarkdown(ev Event) string {
	emoji := "✅"
	if isError(ev) {
		emoji = "💣"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s**\n%s\n", emoji, objectName(ev), ev.Message)
	for _, k := range metadataKeys(ev) {
		fmt.Fprintf(&b, ">**%s**: %s\n", k, ev.Metadata[k])
	}
	return b.String()
}

func (w *webex) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, w.o, w.url, webexMessage{RoomID: w.o.Channel, Markdown: webexMarkdown(ev)}, func(r *request) {
		r.header.Set("Authorization", "Bearer "+w.o.Token)
	})
}
