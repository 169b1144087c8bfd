package notify

import (
	"context"
	"fmt"
	"strings"
)

// telegramAPI is the Bot API; spec.address replaces it (a local Bot API
// server, or a test).
const telegramAPI = "https://api.telegram.org"

func init() { register("telegram", newTelegram) }

// telegram calls the Bot API's sendMessage with MarkdownV2 text. The
// channel is a chat ID or @channelname, optionally followed by
// ":<thread ID>" for a topic of a forum supergroup.
type telegram struct {
	o      Options
	url    string
	chat   string
	thread string
}

type telegramMessage struct {
	ChatID          string `json:"chat_id"`
	MessageThreadID string `json:"message_thread_id,omitempty"`
	Text            string `json:"text"`
	ParseMode       string `json:"parse_mode"`
}

func newTelegram(o Options) (Notifier, error) {
	if err := requireToken(o); err != nil {
		return nil, err
	}
	if err := requireChannel(o); err != nil {
		return nil, err
	}
	base := telegramAPI
	if o.Address != "" {
		u, err := parseURL(o, o.Address)
		if err != nil {
			return nil, err
		}
		base = strings.TrimSuffix(u.String(), "/")
	}
	chat, thread, _ := strings.Cut(o.Channel, ":")
	return &telegram{o: o, url: base + "/bot" + o.Token + "/sendMessage", chat: chat, thread: thread}, nil
}

// telegramEscape escapes what MarkdownV2 reserves.
func telegramEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("_*[]()~`>#+-=|{}.!\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func telegramText(ev Event) string {
	emoji := "💫"
	if isError(ev) {
		emoji = "🚨"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n%s\n", telegramEscape(emoji+" "+objectName(ev)), telegramEscape(ev.Message))
	for _, k := range metadataKeys(ev) {
		fmt.Fprintf(&b, "\\- *%s*: %s\n", telegramEscape(k), telegramEscape(ev.Metadata[k]))
	}
	return b.String()
}

func (t *telegram) Post(ctx context.Context, ev Event) error {
	msg := telegramMessage{ChatID: t.chat, MessageThreadID: t.thread, Text: telegramText(ev), ParseMode: "MarkdownV2"}
	return postJSON(ctx, t.o, t.url, msg, nil)
}
