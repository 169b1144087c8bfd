package git

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh/knownhosts"
)

// AuthError says the remote refused the credentials, none were given where
// they are needed, or the server could not be trusted (unknown or
// mismatched SSH host key, TLS certificate from an unknown authority).
// The reconciler reports it as AuthenticationFailed.
type AuthError struct {
	// URL is the repository URL, without credentials.
	URL string
	Err error
}

// Error describes the failure without secrets.
func (e *AuthError) Error() string {
	return fmt.Sprintf("authentication to %s failed: %v", e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// NotFoundError says the repository, a ref, a commit or a sparse-checkout
// directory does not exist.
type NotFoundError struct {
	// URL is the repository URL, without credentials.
	URL string
	// What names what is missing, such as `branch "main"`.
	What string
	Err  error
}

// Error describes the failure without secrets.
func (e *NotFoundError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s not found in %s", e.What, e.URL)
	}
	return fmt.Sprintf("%s not found in %s: %v", e.What, e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *NotFoundError) Unwrap() error { return e.Err }

// UnreachableError says the remote could not be reached: the connection
// was refused or timed out, or the name did not resolve.
type UnreachableError struct {
	// URL is the repository URL, without credentials.
	URL string
	Err error
}

// Error describes the failure without secrets.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s is unreachable: %v", e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// InvalidError says the spec or Secret is wrong in a way retrying cannot
// fix (an invalid SemVer range, a malformed commit SHA, a Secret missing
// a key). The reconciler stalls on it.
type InvalidError struct {
	// Field names the field or Secret key, such as "spec.ref.semver".
	Field string
	Err   error
}

// Error describes the failure without secrets.
func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %v", e.Field, e.Err) }

// Unwrap returns the cause.
func (e *InvalidError) Unwrap() error { return e.Err }

// VerificationError says a commit or tag is unsigned, or signed by no
// trusted key.
type VerificationError struct {
	// Object is "commit" or "tag".
	Object string
	// Name is the commit hash or the tag name.
	Name string
	Err  error
}

// Error describes the failure without secrets.
func (e *VerificationError) Error() string {
	return fmt.Sprintf("verifying %s %s: %v", e.Object, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *VerificationError) Unwrap() error { return e.Err }

// classify turns an error from go-git into one of the typed errors, with
// every secret removed from its message.
func classify(rawURL string, err error, s *session) error {
	if err == nil {
		return nil
	}
	u := RedactURL(rawURL)
	err = s.redact(err)
	chain := causes(err)
	has := func(target error) bool {
		for _, e := range chain {
			if e == target {
				return true
			}
		}
		return false
	}
	as := func(match func(error) bool) bool {
		for _, e := range chain {
			if match(e) {
				return true
			}
		}
		return false
	}
	switch {
	case s != nil && s.hostKeyErr != nil:
		return &AuthError{URL: u, Err: s.hostKeyErr}
	case as(func(e error) bool { _, ok := e.(*knownhosts.KeyError); return ok }):
		return &AuthError{URL: u, Err: fmt.Errorf("SSH host key is not trusted: %w", err)}
	case has(transport.ErrAuthenticationRequired), has(transport.ErrAuthorizationFailed):
		// The server's reply body only repeats the status; say what it means.
		if s == nil || s.auth == nil {
			return &AuthError{URL: u, Err: fmt.Errorf("%w: the server requires credentials and the Secret gives none", transport.ErrAuthenticationRequired)}
		}
		return &AuthError{URL: u, Err: fmt.Errorf("%w: the server rejected the %s credentials", transport.ErrAuthorizationFailed, s.auth.Name())}
	case s != nil && s.sshKeyRejected():
		return &AuthError{URL: u, Err: fmt.Errorf("SSH public key was not accepted: %w", err)}
	case has(transport.ErrRepositoryNotFound):
		return &NotFoundError{URL: u, What: "repository"}
	case has(transport.ErrEmptyRemoteRepository):
		return &NotFoundError{URL: u, What: "any ref (the repository is empty)", Err: err}
	case as(isCertError):
		return &AuthError{URL: u, Err: fmt.Errorf("TLS certificate not trusted: %w", err)}
	case has(context.DeadlineExceeded):
		return &UnreachableError{URL: u, Err: fmt.Errorf("timed out: %w", err)}
	case as(isNetError):
		return &UnreachableError{URL: u, Err: err}
	}
	return fmt.Errorf("git operation on %s failed: %w", u, err)
}

func isCertError(e error) bool {
	switch e.(type) {
	case x509.UnknownAuthorityError, *x509.UnknownAuthorityError, x509.HostnameError, *x509.HostnameError,
		x509.CertificateInvalidError, *x509.CertificateInvalidError, *tls.CertificateVerificationError:
		return true
	}
	return false
}

func isNetError(e error) bool {
	switch e.(type) {
	case *net.OpError, *net.DNSError, *net.AddrError:
		return true
	}
	return e == syscall.ECONNREFUSED || e == syscall.ECONNRESET || e == syscall.EHOSTUNREACH || e == syscall.ENETUNREACH
}

// causes lists err and everything it wraps, looking through go-git's
// error types that do not implement Unwrap.
func causes(err error) []error {
	var out []error
	queue := []error{err}
	for len(queue) > 0 && len(out) < 64 {
		e := queue[0]
		queue = queue[1:]
		if e == nil {
			continue
		}
		out = append(out, e)
		switch x := e.(type) {
		case *plumbing.UnexpectedError:
			queue = append(queue, x.Err)
		case *plumbing.PermanentError:
			queue = append(queue, x.Err)
		case *url.Error:
			queue = append(queue, x.Err)
		case interface{ Unwrap() []error }:
			queue = append(queue, x.Unwrap()...)
		case interface{ Unwrap() error }:
			queue = append(queue, x.Unwrap())
		}
	}
	return out
}

// RedactURL drops the password from a URL's user information, for
// messages; an unparsable URL becomes "the repository URL".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the repository URL"
	}
	if u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			u.User = url.User(u.User.Username())
		}
	}
	return u.String()
}

// redactedError carries a message with the secrets removed; it still
// unwraps to the original error so errors.Is and errors.As see through it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrub replaces every secret in msg with "***".
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}
