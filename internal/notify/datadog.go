package notify

import (
	"context"
	"fmt"
	"strings"
)

// datadogAPI is the US1 site; spec.address picks another
// (https://api.datadoghq.eu, https://api.us5.datadoghq.com ...).
const datadogAPI = "https://api.datadoghq.com"

func init() { register("datadog", newDatadog) }

// datadog posts an event to the Datadog Events API with the API key as
// token; its tags follow Datadog's Kubernetes tags (kube_kind ...).
type datadog struct {
	o   Options
	url string
}

type datadogEvent struct {
	Title          string   `json:"title"`
	Text           string   `json:"text"`
	Tags           []string `json:"tags"`
	SourceTypeName string   `json:"source_type_name"`
	DateHappened   int64    `json:"date_happened"`
	AlertType      string   `json:"alert_type"`
}

func newDatadog(o Options) (Notifier, error) {
	if err := requireToken(o); err != nil {
		return nil, err
	}
	addr := o.Address
	if addr == "" {
		addr = datadogAPI
	}
	u, err := parseURL(o, addr)
	if err != nil {
		return nil, err
	}
	return &datadog{o: o, url: u.Scheme + "://" + u.Host + "/api/v1/events"}, nil
}

func datadogPayload(ev Event) datadogEvent {
	o := ev.InvolvedObject
	tags := []string{
		"flux_reporting_controller:" + ev.ReportingController,
		"flux_reason:" + ev.Reason,
		"kube_kind:" + o.Kind,
		"kube_name:" + o.Name,
		"kube_namespace:" + o.Namespace,
	}
	for _, k := range metadataKeys(ev) {
		tags = append(tags, k+":"+ev.Metadata[k])
	}
	// Datadog lower-cases tags; doing it here keeps what is sent and what
	// is shown the same.
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	alert := "info"
	if isError(ev) {
		alert = "error"
	}
	return datadogEvent{
		Title:          fmt.Sprintf("Events from the %s %s/%s", o.Kind, o.Name, o.Namespace),
		Text:           ev.Message,
		Tags:           tags,
		SourceTypeName: "fluxcd",
		DateHappened:   ev.Timestamp.Unix(),
		AlertType:      alert,
	}
}

func (d *datadog) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, d.o, d.url, datadogPayload(ev), func(r *request) {
		r.header.Set("DD-API-KEY", d.o.Token)
	})
}
