package receiver

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// GoogleCertsURL is where Google publishes the keys that sign its OIDC
// tokens, such as those of Pub/Sub push subscriptions, as a JWK set.
const GoogleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// googleIssuers are the iss values of Google-signed ID tokens.
var googleIssuers = map[string]bool{"accounts.google.com": true, "https://accounts.google.com": true}

// clockSkew is how far the token's times may be off the controller's clock.
const clockSkew = time.Minute

// googleKeys fetches and caches Google's token signing keys.
type googleKeys struct {
	url    string
	client *http.Client

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// key returns the key kid, fetching the set again when it is older than an
// hour or lacks kid (at most once a minute, so that made-up kids cannot
// make the server hammer Google).
func (g *googleKeys) key(ctx context.Context, kid string, now time.Time) (*rsa.PublicKey, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, ok := g.keys[kid]
	stale := now.Sub(g.fetched) > time.Hour
	if ok && !stale {
		return k, nil
	}
	if !ok && !stale && now.Sub(g.fetched) < time.Minute {
		return nil, fmt.Errorf("no Google signing key %q", kid)
	}
	keys, err := g.fetch(ctx)
	if err != nil {
		if ok {
			return k, nil
		}
		return nil, err
	}
	g.keys, g.fetched = keys, now
	if k, ok = keys[kid]; !ok {
		return nil, fmt.Errorf("no Google signing key %q", kid)
	}
	return k, nil
}

func (g *googleKeys) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch Google's signing keys from %s: %w", g.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch Google's signing keys from %s: %s", g.url, resp.Status)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("Google's signing keys from %s: %w", g.url, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

// verifyGoogleToken checks an RS256 ID token signed by Google for
// audience, and returns its claims.
func (g *googleKeys) verifyGoogleToken(ctx context.Context, raw, audience string, now time.Time) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("JWT algorithm %q is not RS256", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("JWT signature is not base64url")
	}
	key, err := g.key(ctx, header.Kid, now)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, errors.New("JWT signature does not verify with Google's key")
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("JWT claims: %w", err)
	}
	if iss, _ := claims["iss"].(string); !googleIssuers[iss] {
		return nil, fmt.Errorf("issuer %q is not Google", iss)
	}
	if !hasAudience(claims["aud"], audience) {
		return nil, fmt.Errorf("audience is not %q", audience)
	}
	exp, ok := claims["exp"].(float64)
	if !ok || now.After(time.Unix(int64(exp), 0).Add(clockSkew)) {
		return nil, errors.New("token expired")
	}
	if iat, ok := claims["iat"].(float64); ok && time.Unix(int64(iat), 0).After(now.Add(clockSkew)) {
		return nil, errors.New("token issued in the future")
	}
	return claims, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("not base64url")
	}
	return json.Unmarshal(b, v)
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, _ := v.(string); s == want {
				return true
			}
		}
	}
	return false
}

// verifyGCR checks a Pub/Sub push of an Artifact Registry (or GCR) event:
// a Google-signed ID token in Authorization for the audience of the
// Secret's "audience" key, of the service account in its "email" key; the
// event is the message's action (INSERT or DELETE).
func (s *Server) verifyGCR(ctx context.Context, events []string, secret map[string][]byte, h http.Header, body []byte) (delivery, error) {
	d := delivery{payload: body}
	email, audience := string(secret["email"]), string(secret["audience"])
	if email == "" || audience == "" {
		return d, fmt.Errorf("%w: the token Secret of a gcr receiver needs the keys email and audience", errMisconfigured)
	}
	bearer, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		return d, fmt.Errorf("%w: no Bearer token in Authorization", errUnauthorized)
	}
	claims, err := s.google.verifyGoogleToken(ctx, bearer, audience, s.now())
	if err != nil {
		return d, fmt.Errorf("%w: Google ID token: %v", errUnauthorized, err)
	}
	if got, _ := claims["email"].(string); got != email {
		return d, fmt.Errorf("%w: the token is for %q, not the Secret's email", errUnauthorized, got)
	}
	if verified, _ := claims["email_verified"].(bool); !verified {
		return d, fmt.Errorf("%w: the token's email is not verified", errUnauthorized)
	}
	var p struct {
		Message struct {
			Data      string `json:"data"`
			MessageID string `json:"messageId"`
		} `json:"message"`
	}
	if err := decode(body, &p, "Pub/Sub"); err != nil {
		return d, err
	}
	raw, err := base64.StdEncoding.DecodeString(p.Message.Data)
	if err != nil {
		return d, fmt.Errorf("%w: Pub/Sub message.data is not base64", errBadRequest)
	}
	var event struct {
		Action string `json:"action"`
		Digest string `json:"digest"`
		Tag    string `json:"tag"`
	}
	if err := decode(raw, &event, "Artifact Registry"); err != nil {
		return d, err
	}
	d.event, d.id, d.payload = event.Action, p.Message.MessageID, raw
	return d, allowed(events, d.event)
}
