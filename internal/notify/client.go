package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Retry defaults: a delivery is tried up to DefaultAttempts times, waiting
// DefaultBackoff, then twice as long each time, after a network error or
// a 429 or 5xx answer.
const (
	DefaultAttempts = 4
	DefaultBackoff  = time.Second
)

// maxResponse caps what is read of a service's answer.
const maxResponse = 64 << 10

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Timeout bounds one delivery, retries included (spec.timeout).
	Timeout time.Duration
	// TLS is the TLS configuration of spec.certSecretRef; nil takes the
	// system roots.
	TLS *tls.Config
	// Proxy is the proxy of spec.proxySecretRef or spec.proxy.
	Proxy *url.URL
	// AllowLinkLocal lets deliveries reach link-local addresses
	// (169.254.0.0/16, fe80::/10), where clouds serve instance metadata.
	AllowLinkLocal bool
	// Attempts and Backoff override DefaultAttempts and DefaultBackoff.
	Attempts int
	Backoff  time.Duration
	// TLSKey identifies TLS (a digest of the Secret it came from). With
	// it, Clients of the same TLS, proxy and link-local choice share one
	// transport and its kept-alive connections; without it, a Client with
	// TLS gets a transport of its own.
	TLSKey string
}

// transports holds the shared transports, by transportKey.
var transports sync.Map

func (o ClientOptions) transportKey() (string, bool) {
	if o.TLS != nil && o.TLSKey == "" {
		return "", false
	}
	proxy := ""
	if o.Proxy != nil {
		proxy = o.Proxy.String()
	}
	return fmt.Sprintf("%t|%s|%s", o.AllowLinkLocal, proxy, o.TLSKey), true
}

// Client sends the requests of the notifiers: it refuses link-local
// addresses unless allowed, and retries what a retry may fix.
type Client struct {
	http     *http.Client
	timeout  time.Duration
	attempts int
	backoff  time.Duration
}

// NewClient returns a Client.
func NewClient(o ClientOptions) *Client {
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	var tr *http.Transport
	key, shared := o.transportKey()
	if shared {
		if v, ok := transports.Load(key); ok {
			tr = v.(*http.Transport)
		}
	}
	if tr == nil {
		tr = newTransport(o)
		if shared {
			v, _ := transports.LoadOrStore(key, tr)
			tr = v.(*http.Transport)
		}
	}
	return &Client{
		http:     &http.Client{Transport: tr},
		timeout:  o.Timeout,
		attempts: o.Attempts,
		backoff:  o.Backoff,
	}
}

func newTransport(o ClientOptions) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if !o.AllowLinkLocal {
		// The check runs on the address actually dialled, after DNS, so
		// a name that resolves to a metadata endpoint is refused too.
		dialer.Control = refuseLinkLocal
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     o.TLS,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	if o.Proxy != nil {
		tr.Proxy = http.ProxyURL(o.Proxy)
	}
	return tr
}

// ErrLinkLocal is returned for deliveries to link-local addresses.
var ErrLinkLocal = errors.New("address is link-local (such as a cloud metadata endpoint) and deliveries there are refused; start the controller with --allow-link-local-provider-addresses to allow them")

func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if IsLinkLocal(ip) {
		return fmt.Errorf("%s: %w", host, ErrLinkLocal)
	}
	return nil
}

// IsLinkLocal reports whether ip is in 169.254.0.0/16 or fe80::/10,
// IPv4-mapped forms included.
func IsLinkLocal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()
}

// StatusError is a service's answer outside 2xx.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// request is one HTTP call of a notifier.
type request struct {
	method  string
	url     string
	body    []byte
	header  http.Header
	user    string
	pass    string
	headers map[string]string
}

// jsonRequest returns a request with a JSON body.
func jsonRequest(method, u string, payload any) (*request, error) {
	var body []byte
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		body = b
	}
	r := &request{method: method, url: u, body: body, header: http.Header{}}
	if payload != nil {
		r.header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// do sends r, retrying network errors and 429 and 5xx answers with
// backoff, and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, r *request) ([]byte, int, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	wait := c.backoff
	var lastErr error
	for attempt := 1; ; attempt++ {
		body, code, err := c.once(ctx, r)
		if err == nil {
			return body, code, nil
		}
		lastErr = err
		if !retryable(err) || attempt >= c.attempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w (gave up after %d attempts: %v)", lastErr, attempt, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	return nil, 0, lastErr
}

func retryable(err error) bool {
	if errors.Is(err, ErrLinkLocal) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return true
}

func (c *Client) once(ctx context.Context, r *request) ([]byte, int, error) {
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, rd)
	if err != nil {
		return nil, 0, err
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.user != "" || r.pass != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return body, resp.StatusCode, &StatusError{Method: r.method, URL: redact(r.url), Code: resp.StatusCode, Body: trim(string(body))}
	}
	return body, resp.StatusCode, nil
}

// redact drops the query, user info and path of u: webhook URLs carry
// their secret there.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return p.Scheme + "://" + p.Host
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// postJSON POSTs payload as JSON to u with the Provider's extra headers.
func postJSON(ctx context.Context, o Options, u string, payload any, set func(*request)) error {
	r, err := jsonRequest(http.MethodPost, u, payload)
	if err != nil {
		return err
	}
	r.headers = o.Headers
	if set != nil {
		set(r)
	}
	_, _, err = o.Client.do(ctx, r)
	return err
}

// parseURL checks that addr is an absolute http(s) URL.
func parseURL(o Options, addr string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider type %s: address %q is not an http(s) URL", o.Type, redactAddr(addr))
	}
	return u, nil
}

// redactAddr keeps what of addr can be shown in a condition.
func redactAddr(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		if len(addr) > 16 {
			return addr[:16] + "..."
		}
		return addr
	}
	return redact(addr) + "/..."
}
