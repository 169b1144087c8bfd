package notify

import (
	"context"
	"fmt"
	"html"
)

func init() { register("googlechat", newGoogleChat) }

// googleChat posts a card to a Google Chat space's incoming webhook.
type googleChat struct {
	o   Options
	url string
}

type chatPayload struct {
	Cards []chatCard `json:"cards"`
}

type chatCard struct {
	Header   chatHeader    `json:"header"`
	Sections []chatSection `json:"sections"`
}

type chatHeader struct {
	Title    string `json:"title"`
	Subtitle string `json:"subtitle"`
}

type chatSection struct {
	Widgets []chatWidget `json:"widgets"`
}

type chatWidget struct {
	TextParagraph *chatText     `json:"textParagraph,omitempty"`
	KeyValue      *chatKeyValue `json:"keyValue,omitempty"`
}

type chatText struct {
	Text string `json:"text"`
}

type chatKeyValue struct {
	TopLabel string `json:"topLabel"`
	Content  string `json:"content"`
}

func newGoogleChat(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &googleChat{o: o, url: u.String()}, nil
}

func googleChatPayload(ev Event) chatPayload {
	// Card text is a subset of HTML: escape the message, then colour errors.
	text := html.EscapeString(ev.Message)
	if isError(ev) {
		text = fmt.Sprintf(`<font color="#ff0000">%s</font>`, text)
	}
	sections := []chatSection{{Widgets: []chatWidget{{TextParagraph: &chatText{Text: text}}}}}
	if keys := metadataKeys(ev); len(keys) > 0 {
		kv := make([]chatWidget, 0, len(keys))
		for _, k := range keys {
			kv = append(kv, chatWidget{KeyValue: &chatKeyValue{TopLabel: k, Content: ev.Metadata[k]}})
		}
		sections = append(sections, chatSection{Widgets: kv})
	}
	return chatPayload{Cards: []chatCard{{
		Header:   chatHeader{Title: objectName(ev), Subtitle: ev.ReportingController},
		Sections: sections,
	}}}
}

func (g *googleChat) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, g.o, g.url, googleChatPayload(ev), nil)
}
