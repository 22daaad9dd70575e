package convo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Key identifies a conversation: the From/To address pair of its messages,
// exactly as Twilio scopes its cookies. Addresses are compared byte for byte,
// so "whatsapp:+14158675308" and "+14158675308" are different conversations,
// and so are the two directions of one pair of numbers.
type Key struct {
	From string // the sender's address, such as "+14158675308" or "whatsapp:+14158675308"
	To   string // the address the message was sent to: your Twilio number
}

// String returns the key in a stable, injective text form, suitable as a
// database or cache key: the two addresses path-escaped and joined by "/",
// such as "+14158675308/+15005550006". It holds full phone numbers: log
// [Key.Redacted] instead.
func (k Key) String() string {
	return url.PathEscape(k.From) + "/" + url.PathEscape(k.To)
}

// Redacted returns the key with all but the last four characters of each
// address masked, for log lines: "…5308/…0006".
func (k Key) Redacted() string {
	return Redact(k.From) + "/" + Redact(k.To)
}

// Redact masks an address for logging, keeping only a channel prefix such
// as "whatsapp:" and the last four characters:
// Redact("whatsapp:+14158675308") == "whatsapp:…5308".
func Redact(addr string) string {
	prefix, rest := "", addr
	if ch, r, ok := strings.Cut(addr, ":"); ok && len(ch) < 16 {
		prefix, rest = ch+":", r
	}
	if len(rest) <= 4 {
		return prefix + "…"
	}
	return prefix + "…" + rest[len(rest)-4:]
}

// Turn is one exchange of a conversation: the inbound text and the text
// answered (several reply messages joined by "\n").
type Turn struct {
	At  time.Time // when the inbound message was handled
	In  string    // the inbound message's Body
	Out string    // the reply's text, "" when nothing was answered
}

// Conversation is the state kept between the messages of one From/To pair.
// A reply function reads Count, Started, LastActive and History, keeps its
// own data with [StateOf] and [SetState] (or [WithState]), and may call
// [Conversation.End]; the Handler maintains the rest.
type Conversation struct {
	// Key is the From/To pair the conversation belongs to.
	Key Key

	// Count is the number of messages handled, the current one included
	// while a reply function runs: the seed's counter.
	Count int

	// Started is when the first message of the conversation was handled,
	// LastActive when the latest one was.
	Started    time.Time
	LastActive time.Time

	// History holds the most recent turns, oldest first, at most the
	// Handler's HistorySize of them.
	History []Turn

	// State is the application's own state as JSON; nil when none was set.
	// Use [StateOf] and [SetState] rather than this field.
	State json.RawMessage

	ended   bool
	retries []retryRecord // oldest first
}

// retryRecord is the id of an inbound message the conversation answered,
// when, and the exact TwiML it answered: a retry of that message gets the
// same bytes again and changes nothing.
type retryRecord struct {
	ID       string // the MessageSid, or the I-Twilio-Idempotency-Token
	At       time.Time
	Response string // the TwiML after its XML declaration, which every answer starts with
}

// End ends the conversation once the current message is answered: the reply
// is still sent, and the pair's next message starts a fresh conversation
// (Count 1, no state, no history). Retries of the ending message still get
// the same answer.
func (c *Conversation) End() { c.ended = true }

// Ended reports whether End was called during this turn.
func (c *Conversation) Ended() bool { return c.ended }

// replayed returns the TwiML the conversation answered the message id with.
func (c *Conversation) replayed(id string) ([]byte, bool) {
	for i := len(c.retries) - 1; i >= 0 && id != ""; i-- {
		if c.retries[i].ID == id {
			return []byte(xmlHeader + c.retries[i].Response), true
		}
	}
	return nil, false
}

// Retry records are kept for a window of time (Config.RetryWindow) and
// bounded by number and size: past these the oldest go first, and a retry
// of their messages would be handled as a new message.
const (
	maxRetryRecords    = 64
	maxRetryRecordSize = 64 << 10 // bytes of TwiML in all
)

// remember adds the retry record of the message being answered, and keeps
// the newest records: at most keep of them, none older than window before
// r, and no more than maxRetryRecordSize bytes of TwiML beyond r's.
func (c *Conversation) remember(r retryRecord, window time.Duration, keep int) {
	if r.ID == "" || keep <= 0 {
		return
	}
	all := append(c.retries, r)
	n, size := 0, 0
	for i := len(all) - 1; i >= 0; i-- {
		size += len(all[i].Response)
		if n == keep || (n > 0 && size > maxRetryRecordSize) || r.At.Sub(all[i].At) > window {
			break
		}
		n++
	}
	c.retries = all[len(all)-n:]
}

// StateOf decodes the conversation's application state into a T. A
// conversation without state yields T's zero value and no error.
func StateOf[T any](c *Conversation) (T, error) {
	var v T
	if len(c.State) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(c.State, &v); err != nil {
		return v, fmt.Errorf("convo: decoding state as %T: %w", v, err)
	}
	return v, nil
}

// SetState stores v, encoded as JSON, as the conversation's application
// state. It is saved with the rest of the conversation when the turn ends.
func SetState[T any](c *Conversation, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("convo: encoding state %T: %w", v, err)
	}
	c.State = b
	return nil
}

// WithState adapts a reply function that works on typed application state:
// the Handler decodes the conversation's state into a *T (the zero T for a
// new conversation), calls fn, and stores the *T back.
func WithState[T any](fn func(ctx context.Context, c *Conversation, m *Message, state *T) (Reply, error)) ReplyFunc {
	return func(ctx context.Context, c *Conversation, m *Message) (Reply, error) {
		state, err := StateOf[T](c)
		if err != nil {
			return Reply{}, err
		}
		reply, err := fn(ctx, c, m, &state)
		if err != nil {
			return Reply{}, err
		}
		if err := SetState(c, state); err != nil {
			return Reply{}, err
		}
		return reply, nil
	}
}
