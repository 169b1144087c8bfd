package notify

import "context"

func init() { register("opsgenie", newOpsgenie) }

// opsgenie creates an alert through the Opsgenie Alert API
// (spec.address, such as https://api.opsgenie.com/v2/alerts) with the API
// integration key as token.
type opsgenie struct {
	o   Options
	url string
}

type opsgenieAlert struct {
	Message     string            `json:"message"`
	Description string            `json:"description"`
	Details     map[string]string `json:"details"`
}

func newOpsgenie(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	if err := requireToken(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &opsgenie{o: o, url: u.String()}, nil
}

func opsgeniePayload(ev Event) opsgenieAlert {
	details := make(map[string]string, len(ev.Metadata)+1)
	for k, v := range ev.Metadata {
		details[k] = v
	}
	details["severity"] = ev.Severity
	return opsgenieAlert{
		Message:     ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name,
		Description: ev.Message,
		Details:     details,
	}
}

func (g *opsgenie) Post(ctx context.Context, ev Event) error {
	return postJSON(ctx, g.o, g.url, opsgeniePayload(ev), func(r *request) {
		r.header.Set("Authorization", "GenieKey "+g.o.Token)
	})
}
