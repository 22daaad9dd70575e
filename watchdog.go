package convo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A watchdog guards one call of the reply function made in the request's
// own goroutine. When the call outlives its time, the watchdog's timer, in
// a goroutine of its own, answers Twilio with the fallback and flushes it
// whole (with its Content-Length, and "Connection: close", as the request's
// goroutine keeps the connection until the call returns), cancels the
// turn's context and releases the conversation's lock, so that neither
// Twilio nor the pair's next message waits for the reply function. The
// turn is then abandoned: when the call returns, its conversation is
// discarded and nothing more is written.
//
// A watchdog costs a pooled timer per message where running the reply
// function in a goroutine of its own costs a goroutine, a channel and two
// handoffs. It needs a ResponseWriter that can flush an HTTP/1 response,
// as net/http's does; for any other, callReply takes the goroutine.
type watchdog struct {
	t     *time.Timer // runs fire
	state atomic.Uint32
	fired chan struct{} // receives once fire has answered

	// The guarded call's, set by arm.
	h     *Handler
	rq    *request
	limit time.Duration
}

// States of a watchdog: armed while the call runs; then done (the call
// returned in time) or fired (the watchdog answered), whichever comes
// first.
const (
	watchArmed uint32 = iota
	watchDone
	watchFired
)

// request is what a watchdog needs of the request it answers.
type request struct {
	w   http.ResponseWriter
	r   *http.Request
	key Key
	id  string
	tc  *turnContext // the turn's, which fire cancels
}

var watchdogs = sync.Pool{New: func() any {
	d := &watchdog{fired: make(chan struct{}, 1)}
	d.t = time.AfterFunc(time.Hour, d.fire)
	d.t.Stop()
	return d
}}

// errAnswered reports that a watchdog answered the request: the caller
// must write nothing and leave the conversation's lock alone.
var errAnswered = fmt.Errorf("%w; answered with the fallback", errReplyTimeout)

// canWatch reports whether a watchdog can answer on w: an HTTP/1 response
// whose writer flushes, itself or a writer it wraps (see
// http.ResponseController). An HTTP/2 stream ends only when the handler
// returns, so a flushed answer would not reach Twilio sooner.
func canWatch(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	for {
		switch u := w.(type) {
		case http.Flusher, interface{ FlushError() error }:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = u.Unwrap()
		default:
			return false
		}
	}
}

// callReplyWatched calls the reply function in the caller's goroutine
// under a watchdog. It returns errAnswered when the watchdog answered.
func (h *Handler) callReplyWatched(ctx context.Context, c *Conversation, m *Message, rq *request) (Reply, error) {
	limit := h.replyTimeout
	if dl, ok := ctx.Deadline(); ok {
		limit = max(min(limit, time.Until(dl)), 0)
	}
	d := watchdogs.Get().(*watchdog)
	d.h, d.rq, d.limit = h, rq, limit
	d.state.Store(watchArmed) // publishes the fields to fire
	d.t.Reset(limit)
	reply, err := h.callReplyInline(ctx, c, m)
	if d.state.CompareAndSwap(watchArmed, watchDone) {
		if d.t.Stop() { // fire will not run for this call: d can serve another
			d.h, d.rq = nil, nil
			watchdogs.Put(d)
		} // else fire has started, finds the call done and returns; d is left to it
		return reply, err
	}
	<-d.fired
	return Reply{}, errAnswered
}

var connClose = []string{"close"}

// fire answers with the fallback if the call is still running.
func (d *watchdog) fire() {
	if !d.state.CompareAndSwap(watchArmed, watchFired) {
		return
	}
	h, rq := d.h, d.rq
	rq.tc.cancel() // as when the request ends: a well-behaved reply function stops
	hdr := rq.w.Header()
	hdr["Content-Type"] = textXML
	hdr["Content-Length"] = []string{strconv.Itoa(len(h.fallback))}
	hdr["Connection"] = connClose
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(h.fallback)
	_ = http.NewResponseController(rq.w).Flush()
	h.locks.unlock(rq.key)
	h.log.LogAttrs(rq.r.Context(), slog.LevelWarn, "convo: answered with the fallback, nothing saved",
		slog.String("conversation", rq.key.Redacted()), slog.String("message_sid", rq.id),
		slog.String("error", fmt.Sprintf("%v (%v)", errReplyTimeout, d.limit)))
	d.fired <- struct{}{}
}
