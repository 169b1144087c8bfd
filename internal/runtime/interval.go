package runtime

import (
	"math/rand/v2"
	"time"
)

// JitterFraction is the largest share of an interval that Jitter adds or
// removes, so that thousands of objects created together spread out.
var JitterFraction = 0.05

// Jitter returns d changed by a random amount within ±JitterFraction.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 || JitterFraction <= 0 {
		return d
	}
	spread := float64(d) * JitterFraction
	return d + time.Duration((rand.Float64()*2-1)*spread)
}
