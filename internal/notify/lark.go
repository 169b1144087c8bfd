package notify

import (
	"context"
	"fmt"
	"strings"
)

func init() { register("lark", newLark) }

// lark posts an interactive card to a Lark (Feishu) custom bot webhook.
type lark struct {
	o   Options
	url string
}

type larkPayload struct {
	MsgType string   `json:"msg_type"`
	Card    larkCard `json:"card"`
}

type larkCard struct {
	Config   larkConfig    `json:"config"`
	Header   larkHeader    `json:"header"`
	Elements []larkElement `json:"elements"`
}

type larkConfig struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

type larkHeader struct {
	Title    larkText `json:"title"`
	Template string   `json:"template"`
}

type larkElement struct {
	Tag  string   `json:"tag"`
	Text larkText `json:"text"`
}

type larkText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

func newLark(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &lark{o: o, url: u.String()}, nil
}

func larkMessage(ev Event) larkPayload {
	emoji, color := "💫", "turquoise"
	if isError(ev) {
		emoji, color = "🚨", "red"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", ev.Message)
	for _, k := range metadataKeys(ev) {
		fmt.Fprintf(&b, "%s: %s\n", k, ev.Metadata[k])
	}
	return larkPayload{
		MsgType: "interactive",
		Card: larkCard{
			Config:   larkConfig{WideScreenMode: true},
			Header:   larkHeader{Title: larkText{Tag: "plain_text", Content: emoji + " " + objectName(ev)}, Template: color},
			Elements: []larkElement{{Tag: "div", Text: larkText{Tag: "lark_md", Content: b.String()}}},
		},
	}
}

func (l *lark) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, l.o, l.url, larkMessage(ev), nil)
}
