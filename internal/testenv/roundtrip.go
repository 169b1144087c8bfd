package testenv

import "net/http"

// RoundTripFunc is an http.RoundTripper made of a function: tests wrap a
// rest.Config's transport with one to see the requests a client sends.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
