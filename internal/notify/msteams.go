package notify

import "context"

func init() { register("msteams", newMSTeams) }

// msTeams posts an Adaptive Card to a Microsoft Teams workflow webhook
// (Power Automate's "post to a channel when a webhook request is
// received"). Teams renders Adaptive Cards up to version 1.4.
type msTeams struct {
	o   Options
	url string
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	MSTeams teamsWidth     `json:"msteams"`
}

type teamsWidth struct {
	Width string `json:"width"`
}

// teamsElement is a Container, TextBlock or FactSet; the fields of the
// other kinds stay empty and are left out.
type teamsElement struct {
	Type   string         `json:"type"`
	Items  []teamsElement `json:"items,omitempty"`
	Text   string         `json:"text,omitempty"`
	Size   string         `json:"size,omitempty"`
	Weight string         `json:"weight,omitempty"`
	Color  string         `json:"color,omitempty"`
	Wrap   bool           `json:"wrap,omitempty"`
	Facts  []teamsFact    `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func newMSTeams(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &msTeams{o: o, url: u.String()}, nil
}

func teamsPayload(ev Event) teamsMessage {
	msg := teamsElement{Type: "TextBlock", Text: ev.Message, Wrap: true}
	if isError(ev) {
		msg.Color = "attention"
	}
	facts := make([]teamsFact, 0, len(ev.Metadata))
	for _, k := range metadataKeys(ev) {
		facts = append(facts, teamsFact{Title: k, Value: ev.Metadata[k]})
	}
	items := []teamsElement{
		{Type: "TextBlock", Text: objectName(ev), Size: "large", Weight: "bolder", Wrap: true},
		msg,
	}
	if len(facts) > 0 {
		items = append(items, teamsElement{Type: "FactSet", Facts: facts})
	}
	return teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body:    []teamsElement{{Type: "Container", Items: items}},
				MSTeams: teamsWidth{Width: "Full"},
			},
		}},
	}
}

func (t *msTeams) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, t.o, t.url, teamsPayload(ev), nil)
}
