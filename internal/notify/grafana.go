package notify

import (
	"context"
	"fmt"
	"strings"
)

func init() { register("grafana", newGrafana) }

// grafana adds an annotation through Grafana's Graphite-format annotation
// API (spec.address, such as https://grafana.example.com/api/annotations/graphite),
// tagged so dashboards can filter on it.
type grafana struct {
	o   Options
	url string
}

type grafanaAnnotation struct {
	When int64    `json:"when"`
	Text string   `json:"text"`
	Tags []string `json:"tags"`
}

func newGrafana(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &grafana{o: o, url: u.String()}, nil
}

func grafanaPayload(ev Event) grafanaAnnotation {
	// Graphite tags are "key: value"; a colon inside either would split it.
	clean := func(s string) string { return strings.ReplaceAll(s, ":", "|") }
	tags := []string{"flux", ev.ReportingController}
	for _, k := range metadataKeys(ev) {
		tags = append(tags, fmt.Sprintf("%s: %s", clean(k), clean(ev.Metadata[k])))
	}
	tags = append(tags,
		"kind: "+ev.InvolvedObject.Kind,
		"name: "+ev.InvolvedObject.Name,
		"namespace: "+ev.InvolvedObject.Namespace)
	return grafanaAnnotation{When: ev.Timestamp.Unix(), Text: objectName(ev), Tags: tags}
}

func (g *grafana) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, g.o, g.url, grafanaPayload(ev), func(r *request) {
		if g.o.Token != "" {
			r.header.Set("Authorization", "Bearer "+g.o.Token)
		} else if g.o.User != "" && g.o.Password != "" {
			r.user, r.pass = g.o.User, g.o.Password
		}
	})
}
