package notify

import (
	"context"
	"strings"
	"time"

	"github.com/gotk-dev/gotk/api/meta"
)

// pagerDutyEvents is the Events API v2; spec.address replaces its scheme
// and host.
const pagerDutyEvents = "https://events.pagerduty.com"

func init() { register("pagerduty", newPagerDuty) }

// pagerDuty sends Events API v2 events routed by spec.channel (the
// integration key): an error triggers an incident keyed to the object's
// UID; an info event resolves that incident and records a change event.
type pagerDuty struct {
	o    Options
	base string
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	CustomDetails map[string]any `json:"custom_details"`
}

type pdChange struct {
	RoutingKey string          `json:"routing_key"`
	Payload    pdChangePayload `json:"payload"`
}

type pdChangePayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Timestamp     string         `json:"timestamp"`
	CustomDetails map[string]any `json:"custom_details"`
}

func newPagerDuty(o Options) (Notifier, error) {
	if err := requireChannel(o); err != nil {
		return nil, err
	}
	base := pagerDutyEvents
	if o.Address != "" {
		u, err := parseURL(o, o.Address)
		if err != nil {
			return nil, err
		}
		base = u.Scheme + "://" + u.Host
	}
	return &pagerDuty{o: o, base: base}, nil
}

func pagerDutyEvent(ev Event, key string) pdEvent {
	e := pdEvent{RoutingKey: key, EventAction: "resolve", DedupKey: string(ev.InvolvedObject.UID)}
	if isError(ev) {
		name, desc := statusNameAndDescription(ev)
		e.EventAction = "trigger"
		e.Payload = &pdPayload{
			Summary:       desc + ": " + name,
			Source:        "Flux " + ev.ReportingController,
			Severity:      "error",
			Timestamp:     ev.Timestamp.UTC().Format(time.RFC3339),
			Component:     ev.InvolvedObject.Name,
			Group:         ev.InvolvedObject.Kind,
			CustomDetails: map[string]any{"message": ev.Message, "metadata": ev.Metadata},
		}
	}
	return e
}

func pagerDutyChange(ev Event, key string) pdChange {
	name, desc := statusNameAndDescription(ev)
	return pdChange{RoutingKey: key, Payload: pdChangePayload{
		Summary:       desc + ": " + name,
		Source:        "Flux " + ev.ReportingController,
		Timestamp:     ev.Timestamp.UTC().Format(time.RFC3339),
		CustomDetails: map[string]any{"message": ev.Message, "metadata": ev.Metadata},
	}}
}

func (p *pagerDuty) Post(ctx context.Context, ev Event) error {
	if strings.EqualFold(ev.Reason, meta.ProgressingReason) {
		return skipped("pagerduty takes outcomes, not progress")
	}
	if err := postJSON(ctx, p.o, p.base+"/v2/enqueue", pagerDutyEvent(ev, p.o.Channel), nil); err != nil {
		return err
	}
	if isError(ev) {
		return nil
	}
	return postJSON(ctx, p.o, p.base+"/v2/change/enqueue", pagerDutyChange(ev, p.o.Channel), nil)
}
