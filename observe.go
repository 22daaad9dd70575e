package convo

import (
	"context"
	"time"
)

// Observer receives an Event for every request the Handler answers, once
// it is answered, in the request's goroutine: metrics, traces or logs of
// the application's choice. Package github.com/smsconvo/convo/otelconvo
// records them as OpenTelemetry metrics. An Observer must be safe for
// concurrent use and should return quickly; it must not keep e.
type Observer interface {
	Observe(ctx context.Context, e *Event)
}

// Outcome says what the Handler did with a request.
type Outcome string

// The outcomes of a request.
const (
	// Answered: a turn ran, its conversation was saved and its reply
	// answered (empty to an opt-out; see Message.OptOut).
	Answered Outcome = "answered"
	// Replayed: a retry of a message the conversation had answered got
	// the same TwiML again; nothing ran.
	Replayed Outcome = "replayed"
	// Fallback: the reply function failed, panicked, ran out of time or
	// replied too long; the Fallback was answered and nothing saved.
	Fallback Outcome = "fallback"
	// StatusCallback: a status callback, handed to Config.OnStatus.
	StatusCallback Outcome = "status_callback"
	// Refused: a request Twilio would not send (a 4xx answer).
	Refused Outcome = "refused"
	// Failed: the store failed, a stored conversation could not be read
	// or saved, or the turn ran out of time (a 5xx answer).
	Failed Outcome = "failed"
)

// Event is what the Handler did with one request, and how long it took.
type Event struct {
	Outcome Outcome
	Status  int    // the HTTP status answered
	Channel string // the message's channel ("sms", "whatsapp", …); "" when refused before it was read
	OptOut  OptOut // the message's opt-out keyword, if it is one

	// Conflicts counts the turns re-run because another server saved the
	// conversation first.
	Conflicts int

	// Time spent in Store.Load, in Store.Save and in the reply function,
	// over every run of the turn, and in the whole request.
	Load, Save, Reply, Total time.Duration

	// Err says why, for Fallback, Refused and Failed.
	Err error
}

// The methods below do nothing on a nil *Event: the Handler keeps none
// when it has no Observer, and then reads no clock for one.

func (e *Event) set(o Outcome, status int, err error) {
	if e != nil {
		e.Outcome, e.Status, e.Err = o, status, err
	}
}

func (e *Event) clock() time.Time {
	if e == nil {
		return time.Time{}
	}
	return time.Now()
}
