package notify

import (
	"context"
	"strings"
	"time"
	"unicode"
)

func init() { register("alertmanager", newAlertmanager) }

// alertmanager posts a firing alert to Alertmanager's API
// (spec.address, such as http://alertmanager.monitoring:9093/api/v2/alerts).
// No endsAt is set: Alertmanager resolves it after its resolve_timeout.
type alertmanager struct {
	o   Options
	url string
}

type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
}

func newAlertmanager(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &alertmanager{o: o, url: u.String()}, nil
}

// titleWord upper-cases the first letter of s and lower-cases the rest,
// as alert names read: FluxKustomizationReconciliationfailed.
func titleWord(s string) string {
	if s == "" {
		return s
	}
	r := []rune(strings.ToLower(s))
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func alertmanagerPayload(ev Event) []amAlert {
	labels := map[string]string{}
	annotations := map[string]string{"message": ev.Message}
	for k, v := range ev.Metadata {
		if k == "summary" {
			annotations["summary"] = v
			continue
		}
		labels[k] = v
	}
	labels["alertname"] = "Flux" + ev.InvolvedObject.Kind + titleWord(ev.Reason)
	labels["severity"] = ev.Severity
	labels["reason"] = ev.Reason
	labels["kind"] = ev.InvolvedObject.Kind
	labels["name"] = ev.InvolvedObject.Name
	labels["namespace"] = ev.InvolvedObject.Namespace
	labels["reportingcontroller"] = ev.ReportingController
	return []amAlert{{
		Status:      "firing",
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    ev.Timestamp.UTC().Format(time.RFC3339),
	}}
}

func (a *alertmanager) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, a.o, a.url, alertmanagerPayload(ev), func(r *request) {
		if a.o.Token != "" {
			r.header.Set("Authorization", "Bearer "+a.o.Token)
		} else if a.o.User != "" && a.o.Password != "" {
			r.user, r.pass = a.o.User, a.o.Password
		}
	})
}
