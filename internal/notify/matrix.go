package notify

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func init() { register("matrix", newMatrix) }

// matrix sends an m.text message to a room through a homeserver's
// client-server API. The transaction ID is a digest of the event, so a
// retried delivery is not shown twice.
type matrix struct {
	o    Options
	base string
}

type matrixMessage struct {
	MsgType string `json:"msgtype"`
	Body    string `json:"body"`
}

func newMatrix(o Options) (Notifier, error) {
	for _, check := range []func(Options) error{requireAddress, requireToken, requireChannel} {
		if err := check(o); err != nil {
			return nil, err
		}
	}
	u, err := parseURL(o, o.Address)
	if err != nil {
		return nil, err
	}
	return &matrix{o: o, base: strings.TrimSuffix(u.String(), "/")}, nil
}

func matrixBody(ev Event) string {
	emoji := "💫"
	if isError(ev) {
		emoji = "🚨"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n%s\n", emoji, objectName(ev), ev.Message)
	for _, k := range metadataKeys(ev) {
		fmt.Fprintf(&b, "- %s: %s\n", k, ev.Metadata[k])
	}
	return b.String()
}

func (m *matrix) Post(ctx context.Context, ev Event) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	sum := sha1.Sum(raw)
	u := fmt.Sprintf("%s/_matrix/client/r0/rooms/%s/send/m.room.message/%s",
		m.base, url.PathEscape(m.o.Channel), hex.EncodeToString(sum[:]))
	r, err := jsonRequest(http.MethodPut, u, matrixMessage{MsgType: "m.text", Body: matrixBody(ev)})
	if err != nil {
		return err
	}
	r.headers = m.o.Headers
	r.header.Set("Authorization", "Bearer "+m.o.Token)
	_, _, err = m.o.Client.do(ctx, r)
	return err
}
