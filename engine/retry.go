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
	return jittered(d, asked, jitter)
}

// retryPolicy returns how many attempts a step gets and the wait after a number of
// failed attempts: the step's `retry`, else its action's own policy (the Standard
// Webhooks schedule of `webhook`), else one attempt.
func (e *Engine) retryPolicy(st *workflows.Step) (int, func(failed int, asked time.Duration) time.Duration) {
	if st.Retry != nil {
		p := *st.Retry
		return p.Attempts, func(failed int, asked time.Duration) time.Duration {
			return backoff(p, failed, asked, nil)
		}
	}
	if a, ok := e.actions.Lookup(st.Uses); ok {
		if p := a.Spec().Retry; p != nil {
			return p.Attempts, func(failed int, asked time.Duration) time.Duration {
				return jittered(p.Delay(failed), asked, nil)
			}
		}
	}
	return defaultRetry.Attempts, nil
}

// jittered applies at most ±20% of jitter to d, with a delay the action asked for as a
// floor.
func jittered(d, asked time.Duration, jitter func() float64) time.Duration {
	if jitter == nil {
		jitter = rand.Float64
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*jitter()))
	return max(d, asked)
}
