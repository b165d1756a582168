package engine

import (
	"math/rand/v2"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// defaultRetry is the policy of a step without `retry`: one attempt.
var defaultRetry = workflows.Retry{Attempts: 1, Delay: time.Second, Backoff: workflows.BackoffExponential}

// backoff returns the wait before the attempt that follows `failed` failed attempts
// (failed >= 1): delay, then doubling for exponential backoff, capped by max_delay, with
// jitter of at most ±20%. A delay the action asked for (Retry-After) is a floor.
func backoff(p workflows.Retry, failed int, asked time.Duration, jitter func() float64) time.Duration {
	d := p.Delay
	if p.Backoff != workflows.BackoffFixed {
		for i := 1; i < failed && d < 1<<40; i++ {
			d *= 2
		}
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	if jitter == nil {
		jitter = rand.Float64
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*jitter()))
	if asked > d {
		d = asked
	}
	return d
}
