package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// slackPostMessage is Slack's Web API method for bot tokens. It answers
// 200 even for failures, with {"ok": false, "error": ...}.
const slackPostMessage = "https://slack.com/api/chat.postMessage"

// slackIcon is the avatar the messages carry, Flux's logo.
const slackIcon = "https://avatars.githubusercontent.com/u/52158677"

func init() {
	register("slack", newSlack)
	register("rocket", newSlack)
	register("discord", newDiscord)
}

// slack posts a message with one attachment to a Slack incoming webhook
// or, with a bot token, to chat.postMessage. Rocket.Chat and Discord
// accept the same payload.
type slack struct {
	o   Options
	url string
	// apiResponse means the answer is a Web API one, to check for "ok".
	apiResponse bool
}

type slackPayload struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username"`
	IconURL     string            `json:"icon_url"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in"`
	Fields     []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func newSlack(o Options) (Notifier, error) {
	addr := o.Address
	if addr == "" && o.Type == "slack" && o.Token != "" {
		addr = slackPostMessage
	}
	if addr == "" {
		return nil, requireAddress(o)
	}
	u, err := parseURL(o, addr)
	if err != nil {
		return nil, err
	}
	return &slack{o: o, url: u.String(), apiResponse: o.Type == "slack" && strings.HasSuffix(u.Path, "/chat.postMessage")}, nil
}

// newDiscord posts to the Slack-compatible endpoint of a Discord webhook,
// which is the webhook URL with "/slack" appended.
func newDiscord(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/slack") {
		u.Path = path.Join(u.Path, "slack")
	}
	return &slack{o: o, url: u.String()}, nil
}

func slackMessage(o Options, ev Event) slackPayload {
	color := "good"
	if isError(ev) {
		color = "danger"
	}
	fields := make([]slackField, 0, len(ev.Metadata))
	for _, k := range metadataKeys(ev) {
		fields = append(fields, slackField{Title: k, Value: ev.Metadata[k]})
	}
	user := o.Username
	if user == "" {
		user = ev.ReportingController
	}
	return slackPayload{
		Channel:  o.Channel,
		Username: user,
		IconURL:  slackIcon,
		Attachments: []slackAttachment{{
			Color:      color,
			AuthorName: objectName(ev),
			Text:       ev.Message,
			MrkdwnIn:   []string{"text"},
			Fields:     fields,
		}},
	}
}

func (s *slack) Post(ctx context.Context, ev Event) error {
	r, err := jsonRequest("POST", s.url, slackMessage(s.o, ev))
	if err != nil {
		return err
	}
	r.headers = s.o.Headers
	if s.o.Token != "" && s.o.Type == "slack" {
		r.header.Set("Authorization", "Bearer "+s.o.Token)
	}
	body, _, err := s.o.Client.do(ctx, r)
	if err != nil {
		return err
	}
	if s.apiResponse {
		var answer struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			return fmt.Errorf("slack answered something other than JSON: %w", err)
		}
		if !answer.OK {
			return fmt.Errorf("slack refused the message: %s", answer.Error)
		}
	}
	return nil
}
