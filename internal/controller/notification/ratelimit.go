package notification

import (
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// limiter lets one event per key through per interval: the key is the
// object, the message and the revision, so a controller that reports the
// same failure every retry alerts once per interval.
type limiter struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	seen  map[[32]byte]time.Time
	sweep time.Time
}

func newLimiter(interval time.Duration) *limiter {
	return &limiter{interval: interval, now: time.Now, seen: map[[32]byte]time.Time{}}
}

// eventKey identifies the duplicates of ev.
func eventKey(ev Event) [32]byte {
	o := ev.InvolvedObject
	parts := []string{"event", o.Name, o.Namespace, o.Kind, ev.Message}
	if rev, ok := ev.Metadata["revision"]; ok {
		parts = append(parts, rev)
	}
	return sha256.Sum256([]byte(strings.Join(parts, "/")))
}

// allow reports whether key may pass now, and if so starts its interval.
func (l *limiter) allow(key [32]byte) bool {
	if l.interval <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > l.interval {
		// Forget keys whose interval ended, so memory follows the number
		// of distinct events per interval, not since start.
		for k, t := range l.seen {
			if now.Sub(t) >= l.interval {
				delete(l.seen, k)
			}
		}
		l.sweep = now
	}
	if t, ok := l.seen[key]; ok && now.Sub(t) < l.interval {
		return false
	}
	l.seen[key] = now
	return true
}
