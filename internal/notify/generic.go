package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// ComponentHeader names the controller that reported a forwarded event.
const ComponentHeader = "gotk-component"

// SignatureHeader carries the HMAC of a generic-hmac body:
// "sha256=<hex>" keyed with the Provider's token.
const SignatureHeader = "X-Signature"

func init() {
	register("generic", newGeneric)
	register("generic-hmac", newGeneric)
}

// generic POSTs the event itself as JSON; generic-hmac signs the body too,
// so the receiver can check it came from this controller.
type generic struct {
	o   Options
	url string
	key []byte
}

func newGeneric(o Options) (Notifier, error) {
	if err := requireAddress(o); err != nil {
		return nil, err
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	g := &generic{o: o, url: u.String()}
	if o.Type == "generic-hmac" {
		if err := requireToken(o); err != nil {
			return nil, err
		}
		g.key = []byte(o.Token)
	}
	return g, nil
}

// Sign returns the X-Signature value of body under key.
func Sign(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (g *generic) Post(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	r := &request{method: http.MethodPost, url: g.url, body: body, header: http.Header{}, headers: g.o.Headers}
	r.header.Set("Content-Type", "application/json")
	r.header.Set(ComponentHeader, ev.ReportingController)
	if g.key != nil {
		r.header.Set(SignatureHeader, Sign(body, g.key))
	}
	_, _, err = g.o.Client.do(ctx, r)
	return err
}
