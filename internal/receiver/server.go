// Package receiver serves the webhooks of Receivers: a request to a
// Receiver's status.webhookPath is authenticated as its sender type signs
// it, filtered by spec.events, and then sets the reconcile request
// annotation on the objects of spec.resources that the CEL filters pass,
// so that their controllers reconcile them at once.
package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notificationv1 "github.com/gotk-dev/gotk/api/notification/v1"
)

// WebhookPathIndex indexes Receivers by status.webhookPath, which the
// server looks requests up by.
const WebhookPathIndex = ".status.webhookPath"

// IndexWebhookPath is the function of WebhookPathIndex.
func IndexWebhookPath(o client.Object) []string {
	if p := o.(*notificationv1.Receiver).Status.WebhookPath; p != "" {
		return []string{p}
	}
	return nil
}

// Defaults of the server's settings.
const (
	// DefaultAddr is where the server listens, as Flux's
	// notification-controller does.
	DefaultAddr = ":9292"
	// DefaultMaxBodySize caps a request body: GitHub's push payloads are
	// capped at 25 MB, but those above a few hundred KB are rare and a
	// receiver only needs the headers and a few fields.
	DefaultMaxBodySize = 1 << 20
	// DefaultReplayWindow is how long an accepted signed delivery is
	// remembered to refuse its replay.
	DefaultReplayWindow = time.Hour
)

// Server is the webhook server. It is a manager Runnable that every
// replica runs, leader or not.
type Server struct {
	// Addr is the address to listen on, unless Listener is set.
	Addr     string
	Listener net.Listener
	// Client reads Receivers (from the cache, by WebhookPathIndex) and
	// patches the objects they name.
	Client client.Client
	// Reader reads the token Secrets and the objects to reconcile,
	// straight from the API server.
	Reader client.Reader
	// MaxBodySize caps a request body; larger ones get 413.
	MaxBodySize int64
	// ReplayWindow is how long a signed delivery is remembered; zero turns
	// replay refusal off.
	ReplayWindow time.Duration
	// NoCrossNamespaceRefs refuses resources in other namespaces.
	NoCrossNamespaceRefs bool
	// GoogleCertsURL is the JWK set that gcr receivers check tokens
	// with; GoogleCertsURL (Google's) when empty.
	GoogleCertsURL string
	Log            logr.Logger
	// now is the clock; time.Now when nil.
	now func() time.Time

	replays *replayCache
	google  *googleKeys
}

// NeedLeaderElection is false: every replica answers webhooks.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return fmt.Errorf("receiver server on --receiver-addr %s: %w", s.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info("serving receiver webhooks", "addr", ln.Addr().String())
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Handler returns the HTTP handler of the server.
func (s *Server) Handler() http.Handler {
	if s.MaxBodySize <= 0 {
		s.MaxBodySize = DefaultMaxBodySize
	}
	if s.replays == nil {
		s.replays = newReplayCache(s.ReplayWindow)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.Reader == nil {
		s.Reader = s.Client
	}
	if s.google == nil {
		url := s.GoogleCertsURL
		if url == "" {
			url = GoogleCertsURL
		}
		s.google = &googleKeys{url: url, client: &http.Client{Timeout: 10 * time.Second}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(notificationv1.ReceiverWebhookPathPrefix, s.serveHook)
	return mux
}

// reply is the outcome of a request.
type reply struct {
	code int
	msg  string
}

func (s *Server) serveHook(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	log := s.Log.WithValues("path", path)
	rep := s.handle(r, path, log)
	if rep.code >= 400 {
		log.Info("webhook refused", "status", rep.code, "reason", rep.msg)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.msg+"\n")
}

func (s *Server) handle(r *http.Request, path string, log logr.Logger) reply {
	if r.Method != http.MethodPost {
		return reply{http.StatusMethodNotAllowed, "receivers accept POST only"}
	}
	if !validPath(path) {
		return reply{http.StatusNotFound, "no receiver at this path"}
	}
	if r.ContentLength > s.MaxBodySize {
		return reply{http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d (--receiver-max-body-size)", r.ContentLength, s.MaxBodySize)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return reply{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the limit of %d bytes (--receiver-max-body-size)", s.MaxBodySize)}
		}
		return reply{http.StatusBadRequest, "cannot read the body: " + err.Error()}
	}

	ctx := r.Context()
	list := &notificationv1.ReceiverList{}
	if err := s.Client.List(ctx, list, client.MatchingFields{WebhookPathIndex: path}); err != nil {
		log.Error(err, "list receivers")
		return reply{http.StatusInternalServerError, "cannot list receivers"}
	}
	if len(list.Items) == 0 {
		return reply{http.StatusNotFound, "no receiver at this path"}
	}
	// Two Receivers share a path only if they share name, namespace and
	// token, which cannot happen; still, each one answers on its own.
	var last reply
	for i := range list.Items {
		last = s.handleReceiver(ctx, &list.Items[i], path, r.Header, body, log)
		if last.code >= 300 {
			return last
		}
	}
	return last
}

// validPath reports whether path is "/hook/" and 64 lower-case hex digits.
func validPath(path string) bool {
	digest, ok := strings.CutPrefix(path, notificationv1.ReceiverWebhookPathPrefix)
	if !ok || len(digest) != 64 {
		return false
	}
	for _, c := range digest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Server) handleReceiver(ctx context.Context, obj *notificationv1.Receiver, path string, h http.Header, body []byte, log logr.Logger) reply {
	log = log.WithValues("receiver", obj.Namespace+"/"+obj.Name, "type", obj.Spec.Type)
	if obj.Spec.Suspend {
		return reply{http.StatusServiceUnavailable, fmt.Sprintf("receiver %s/%s is suspended", obj.Namespace, obj.Name)}
	}
	if obj.Spec.SecretRef == nil {
		return reply{http.StatusServiceUnavailable, fmt.Sprintf("receiver %s/%s has no spec.secretRef", obj.Namespace, obj.Name)}
	}
	secret, err := Credentials(ctx, s.Reader, obj)
	if err != nil {
		log.Error(err, "read token")
		return reply{http.StatusServiceUnavailable, fmt.Sprintf("receiver %s/%s has no token", obj.Namespace, obj.Name)}
	}
	token := string(secret["token"])
	// A path that the current token no longer gives is stale: the token
	// was rotated and the status not updated yet.
	if obj.WebhookPath(token) != path {
		return reply{http.StatusNotFound, "no receiver at this path"}
	}

	var d delivery
	if obj.Spec.Type == notificationv1.GCRReceiver {
		d, err = s.verifyGCR(ctx, obj.Spec.Events, secret, h, body)
	} else {
		d, err = verify(obj.Spec.Type, obj.Spec.Events, token, h, body)
	}
	switch {
	case errors.Is(err, errUnauthorized):
		return reply{http.StatusUnauthorized, err.Error()}
	case errors.Is(err, errBadRequest):
		return reply{http.StatusBadRequest, err.Error()}
	case errors.Is(err, errUnsupported):
		return reply{http.StatusNotImplemented, err.Error()}
	case errors.Is(err, errMisconfigured):
		return reply{http.StatusServiceUnavailable, err.Error()}
	case errors.Is(err, errIgnored):
		log.V(1).Info("event ignored", "event", d.event)
		return reply{http.StatusOK, err.Error() + "; nothing reconciled"}
	case err != nil:
		return reply{http.StatusBadRequest, err.Error()}
	}
	log = log.WithValues("event", d.event)
	if d.ping {
		log.Info("ping accepted")
		return reply{http.StatusOK, "pong"}
	}

	// A spec that cannot work (the Receiver stalls on it) keeps its
	// published path: say so rather than fail as the server.
	if err := Validate(obj, s.NoCrossNamespaceRefs); err != nil {
		return reply{http.StatusServiceUnavailable, fmt.Sprintf("receiver %s/%s is not ready: %v", obj.Namespace, obj.Name, err)}
	}

	// Replays are refused only where the token signs the body: for the
	// other types, whoever can replay a request can forge one.
	var keys [][32]byte
	if d.signed {
		keys = append(keys, replayKey(string(obj.UID), "body", body))
		if d.id != "" {
			keys = append(keys, replayKey(string(obj.UID), "id", []byte(d.id)))
		}
		if !s.replays.reserve(s.now(), keys...) {
			return reply{http.StatusConflict, fmt.Sprintf("this delivery was already accepted within the last %s; a replay is refused", s.ReplayWindow)}
		}
	}

	targets, err := selectTargets(ctx, s.Reader, obj, d.payload, s.NoCrossNamespaceRefs)
	if err == nil {
		err = requestReconcile(ctx, s.Client, targets, s.now())
	}
	if err != nil {
		s.replays.release(keys...)
		log.Error(err, "request reconciliation")
		return reply{http.StatusInternalServerError, err.Error()}
	}
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		names = append(names, t.String())
	}
	log.Info("reconciliation requested", "resources", names)
	return reply{http.StatusOK, fmt.Sprintf("reconciliation requested for %d resources", len(targets))}
}

// Credentials reads the Secret of a Receiver's spec.secretRef and checks
// that it holds the "token" key, and for a gcr Receiver "email" and
// "audience" too.
func Credentials(ctx context.Context, c client.Reader, obj *notificationv1.Receiver) (map[string][]byte, error) {
	if obj.Spec.SecretRef == nil {
		return nil, errors.New("spec.secretRef is not set")
	}
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretRef.Name}
	if err := c.Get(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("secret '%s': %w", key, err)
	}
	want := []string{"token"}
	if obj.Spec.Type == notificationv1.GCRReceiver {
		want = append(want, "email", "audience")
	}
	for _, k := range want {
		if len(secret.Data[k]) == 0 {
			return nil, fmt.Errorf("secret '%s' has no '%s' key", key, k)
		}
	}
	return secret.Data, nil
}
