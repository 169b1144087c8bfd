package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gotk-dev/gotk/internal/version"
)

func init() { register("sentry", newSentry) }

// sentry sends each event as a Sentry event, in an envelope, to the
// project of the DSN in spec.address; spec.channel is the environment.
// Info events are sent at level info, errors at level error.
type sentry struct {
	o        Options
	dsn      string
	url      string
	key      string
	hostname string
}

type sentryEvent struct {
	EventID     string            `json:"event_id"`
	Timestamp   string            `json:"timestamp"`
	Level       string            `json:"level"`
	Platform    string            `json:"platform"`
	Logger      string            `json:"logger"`
	ServerName  string            `json:"server_name"`
	Environment string            `json:"environment,omitempty"`
	Transaction string            `json:"transaction"`
	Message     string            `json:"message"`
	Tags        map[string]string `json:"tags"`
	Extra       map[string]string `json:"extra,omitempty"`
}

func newSentry(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := url.Parse(o.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("provider type sentry: address must be a DSN such as https://<key>@o0.ingest.sentry.io/<project>")
	}
	prefix, project := "", strings.Trim(u.Path, "/")
	if i := strings.LastIndex(project, "/"); i >= 0 {
		prefix, project = "/"+project[:i], project[i+1:]
	}
	if project == "" {
		return nil, fmt.Errorf("provider type sentry: the DSN names no project")
	}
	endpoint := fmt.Sprintf("%s://%s%s/api/%s/envelope/", u.Scheme, u.Host, prefix, project)
	return &sentry{o: o, dsn: o.Address, url: endpoint, key: u.User.Username()}, nil
}

func sentryPayload(ev Event, environment, id string) sentryEvent {
	o := ev.InvolvedObject
	level := "info"
	if isError(ev) {
		level = "error"
	}
	extra := make(map[string]string, len(ev.Metadata))
	for k, v := range ev.Metadata {
		extra[k] = v
	}
	return sentryEvent{
		EventID:     id,
		Timestamp:   ev.Timestamp.UTC().Format(time.RFC3339),
		Level:       level,
		Platform:    "go",
		Logger:      "gotk",
		ServerName:  ev.ReportingController,
		Environment: environment,
		Transaction: fmt.Sprintf("%s: %s/%s", o.Kind, o.Namespace, o.Name),
		Message:     ev.Message,
		Tags: map[string]string{
			"flux_involved_object_kind":      o.Kind,
			"flux_involved_object_namespace": o.Namespace,
			"flux_involved_object_name":      o.Name,
			"flux_reporting_controller":      ev.ReportingController,
			"flux_reason":                    ev.Reason,
		},
		Extra: extra,
	}
}

// SentryAuth is the X-Sentry-Auth header for a DSN's public key.
func SentryAuth(key string) string {
	return fmt.Sprintf("Sentry sentry_version=7, sentry_client=gotk/%s, sentry_key=%s", version.String(), key)
}

func (s *sentry) Post(ctx context.Context, ev Event) error {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	id := hex.EncodeToString(raw)
	item, err := json.Marshal(sentryPayload(ev, s.o.Channel, id))
	if err != nil {
		return err
	}
	header, err := json.Marshal(map[string]string{"event_id": id, "sent_at": time.Now().UTC().Format(time.RFC3339), "dsn": s.dsn})
	if err != nil {
		return err
	}
	itemHeader, err := json.Marshal(map[string]any{"type": "event", "length": len(item)})
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, part := range [][]byte{header, itemHeader, item} {
		body.Write(part)
		body.WriteByte('\n')
	}
	r := &request{method: http.MethodPost, url: s.url, body: body.Bytes(), header: http.Header{}, headers: s.o.Headers}
	r.header.Set("Content-Type", "application/x-sentry-envelope")
	r.header.Set("X-Sentry-Auth", SentryAuth(s.key))
	_, _, err = s.o.Client.do(ctx, r)
	return err
}
