package convo

import (
	"context"
	"sync"
	"time"
)

// turnContext is the context of a webhook's turns: the request's, ending
// at the turn's deadline, and carrying the exchange (see WithExchange).
// One allocation holds it with what a watchdog needs of the request.
//
// Its deadline is kept without a timer until something waits for it: Done
// starts the timer, and Err, which the stores and the Handler call between
// steps, checks the clock. A turn that nobody waits on, the common case,
// costs no timer. Otherwise it behaves as context.WithTimeout's: Deadline
// reports the deadline; at the deadline Done closes and Err returns
// context.DeadlineExceeded (context.Cause too); when the request's context
// ends, or cancel is called, it ends with that error (context.Canceled).
// Contexts derived from it end with it.
type turnContext struct {
	context.Context // the request's, with a cancel of its own
	end             context.CancelCauseFunc
	deadline        time.Time
	arm             sync.Once // starts timer, when Done is first called
	timer           *time.Timer

	x  Exchange
	rq request
}

// newTurnContext returns a turn context ending timeout from now, or at
// parent's deadline if that comes first.
func newTurnContext(parent context.Context, timeout time.Duration) *turnContext {
	c := &turnContext{deadline: time.Now().Add(timeout)}
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d // parent ends first, by itself
	}
	c.Context, c.end = context.WithCancelCause(parent)
	c.rq.tc = c
	return c
}

func (c *turnContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *turnContext) Done() <-chan struct{} {
	c.arm.Do(func() {
		if d := time.Until(c.deadline); d > 0 {
			c.timer = time.AfterFunc(d, c.expire)
		} else {
			c.expire()
		}
	})
	return c.Context.Done()
}

func (c *turnContext) Err() error {
	err := c.Context.Err()
	if err == nil {
		if time.Until(c.deadline) > 0 { // reads only the monotonic clock
			return nil
		}
		c.expire() // Done closes with it, as Err may only report what Done shows
		err = c.Context.Err()
	}
	if err == context.Canceled && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded // ours, not the parent's
	}
	return err
}

func (c *turnContext) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return &c.x
	}
	return c.Context.Value(key)
}

// expire ends the context at its deadline.
func (c *turnContext) expire() { c.end(context.DeadlineExceeded) }

// cancel ends the context, if it has not ended, with context.Canceled, and
// stops its timer. It is safe to call from any goroutine, more than once.
func (c *turnContext) cancel() {
	c.end(context.Canceled)
	c.arm.Do(func() {}) // no timer starts after this
	if c.timer != nil {
		c.timer.Stop()
	}
}
