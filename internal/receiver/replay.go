package receiver

import (
	"crypto/sha256"
	"sync"
	"time"
)

// replayCache remembers the signed deliveries accepted within a window, so
// that a captured request sent again is refused. It is per process: each
// replica of the controller keeps its own.
type replayCache struct {
	window time.Duration
	max    int

	mu   sync.Mutex
	seen map[[32]byte]time.Time
	// order holds the keys by time of acceptance, oldest first, to expire
	// and evict them.
	order []replayEntry
}

type replayEntry struct {
	key [32]byte
	at  time.Time
}

// defaultReplayMax bounds the memory the cache uses: 100,000 keys is some
// 6 MB.
const defaultReplayMax = 100_000

func newReplayCache(window time.Duration) *replayCache {
	return &replayCache{window: window, max: defaultReplayMax, seen: map[[32]byte]time.Time{}}
}

// replayKey names one delivery to one Receiver.
func replayKey(receiverUID, kind string, value []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(receiverUID))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(value)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// reserve records keys as accepted at now unless one of them was accepted
// within the window, in which case it records nothing and returns false.
// The caller releases the keys if the delivery then fails, so that the
// sender's retry is not taken for a replay.
func (c *replayCache) reserve(now time.Time, keys ...[32]byte) bool {
	if c == nil || c.window <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	for _, k := range keys {
		if at, ok := c.seen[k]; ok && now.Sub(at) < c.window {
			return false
		}
	}
	for _, k := range keys {
		c.seen[k] = now
		c.order = append(c.order, replayEntry{key: k, at: now})
	}
	for len(c.seen) > c.max && len(c.order) > 0 {
		c.drop()
	}
	return true
}

// release forgets keys that reserve recorded.
func (c *replayCache) release(keys ...[32]byte) {
	if c == nil || c.window <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.seen, k)
	}
}

func (c *replayCache) expire(now time.Time) {
	for len(c.order) > 0 && now.Sub(c.order[0].at) >= c.window {
		c.drop()
	}
}

// drop forgets the oldest entry, unless its key was recorded again later.
func (c *replayCache) drop() {
	e := c.order[0]
	c.order = c.order[1:]
	if at, ok := c.seen[e.key]; ok && !at.After(e.at) {
		delete(c.seen, e.key)
	}
}
