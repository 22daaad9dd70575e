package convo

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Key identifies a conversation: the From/To address pair of the messages,
// exactly as Twilio scopes its cookies. Addresses are compared byte for byte,
// so "whatsapp:+14158675308" and "+14158675308" are different conversations,
// and so are the two directions of one pair of numbers.
type Key struct {
	From string // the sender's address, such as "+14158675308" or "whatsapp:+14158675308"
	To   string // the address the message was sent to: your Twilio number
}

// String returns the key in a stable, injective text form, suitable as a
// database or cache key: the two addresses path-escaped and joined by "/",
// such as "+14158675308/+15005550006". It holds full phone numbers: do not
// log it; log [Key.Redacted] instead.
func (k Key) String() string {
	return url.PathEscape(k.From) + "/" + url.PathEscape(k.To)
}

// ParseKey is the inverse of [Key.String].
func ParseKey(s string) (Key, error) {
	from, to, ok := strings.Cut(s, "/")
	if !ok {
		return Key{}, fmt.Errorf("convo: key %q has no separator", Redact(s))
	}
	f, err := url.PathUnescape(from)
	if err != nil {
		return Key{}, fmt.Errorf("convo: key: %w", err)
	}
	t, err := url.PathUnescape(to)
	if err != nil {
		return Key{}, fmt.Errorf("convo: key: %w", err)
	}
	return Key{From: f, To: t}, nil
}

// Redacted returns the key with all but the last four characters of each
// address masked, for log lines: "…5308/…0006".
func (k Key) Redacted() string {
	return Redact(k.From) + "/" + Redact(k.To)
}

// Redact masks an address (or any secret-bearing string) for logging,
// keeping only a channel prefix such as "whatsapp:" and the last four
// characters: Redact("whatsapp:+14158675308") == "whatsapp:…5308".
func Redact(addr string) string {
	prefix := ""
	if i := strings.IndexByte(addr, ':'); i >= 0 && i < 16 {
		prefix, addr = addr[:i+1], addr[i+1:]
	}
	if len(addr) <= 4 {
		return prefix + "…"
	}
	return prefix + "…" + addr[len(addr)-4:]
}

// Turn is one exchange of a conversation: the inbound text and the text
// answered (several reply messages are joined by "\n").
type Turn struct {
	At  time.Time // when the inbound message was handled
	In  string    // the inbound message's Body
	Out string    // the reply's text, "" when nothing was answered
}

// Handled is a retry record: the id of an inbound message this conversation
// has already answered, and the exact TwiML document it was answered with.
// The Handler answers a repeated id with Reply again, byte for byte, and
// changes nothing.
type Handled struct {
	ID    string // the MessageSid, or the I-Twilio-Idempotency-Token when no MessageSid was sent
	Reply []byte // the TwiML answered
}

// Conversation is the state kept between the messages of one From/To pair.
//
// Stores read and write every field. Reply functions read Count, Started,
// LastActive and History, keep their own data with [StateOf] and
// [SetState] (or [WithState]), and call [Conversation.End]; the Handler
// maintains the rest.
type Conversation struct {
	// Key is the From/To pair the conversation belongs to.
	Key Key

	// Version is the store's compare-and-set token: 0 for a conversation
	// that has never been saved, and otherwise the value the store gave
	// it at the last Load or Save. Only stores set it.
	Version uint64

	// Count is the number of messages handled, the current one included
	// while a reply function runs: the seed's counter.
	Count int

	// Started is when the first message of the conversation was handled,
	// LastActive when the latest one was. Both are zero on a fresh
	// conversation until the Handler begins its first turn.
	Started    time.Time
	LastActive time.Time

	// History holds the most recent turns, oldest first, at most the
	// Handler's HistorySize of them.
	History []Turn

	// State is the application's own state as JSON; nil when none was set.
	// Use [StateOf] and [SetState] rather than this field.
	State json.RawMessage

	// Handled holds the retry records of the most recent messages, oldest
	// first, at most the Handler's RetryRecords of them.
	Handled []Handled

	// Ended is set by [Conversation.End].
	Ended bool
}

// NewConversation returns a fresh, never saved conversation for key.
// Stores return it from Load when they hold nothing (or only something
// expired) for the key.
func NewConversation(key Key) *Conversation {
	return &Conversation{Key: key}
}

// End ends the conversation once the current turn is answered: the reply is
// still sent, and the next message of the pair starts a fresh conversation
// (Count 1, no state, no history). The retry record of the ending message is
// kept where the store can keep it, so a retry of that message is still
// answered with the same reply.
func (c *Conversation) End() { c.Ended = true }

// IsNew reports whether the conversation has never been saved.
func (c *Conversation) IsNew() bool { return c.Version == 0 }

// Replayed returns the TwiML this conversation answered the message id with,
// if it is one of its retry records.
func (c *Conversation) Replayed(id string) ([]byte, bool) {
	if id == "" {
		return nil, false
	}
	for i := len(c.Handled) - 1; i >= 0; i-- {
		if c.Handled[i].ID == id {
			return c.Handled[i].Reply, true
		}
	}
	return nil, false
}

// Clone returns a deep copy of c. Stores that keep conversations in memory
// hand out and take in clones so that no caller shares their copy.
func (c *Conversation) Clone() *Conversation {
	d := *c
	if c.History != nil {
		d.History = append(make([]Turn, 0, len(c.History)), c.History...)
	}
	if c.State != nil {
		d.State = append(json.RawMessage(nil), c.State...)
	}
	if c.Handled != nil {
		// Reply bytes are never modified in place, so sharing them is safe.
		d.Handled = append(make([]Handled, 0, len(c.Handled)), c.Handled...)
	}
	return &d
}

// Size returns an estimate of the bytes the conversation's variable-length
// data occupies: addresses, history, state and retry records.
func (c *Conversation) Size() int {
	n := len(c.Key.From) + len(c.Key.To) + len(c.State)
	for _, t := range c.History {
		n += len(t.In) + len(t.Out)
	}
	for _, h := range c.Handled {
		n += len(h.ID) + len(h.Reply)
	}
	return n
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

// beginTurn counts the message m and marks the conversation active at now.
func (c *Conversation) beginTurn(now time.Time) {
	c.Ended = false // a stored ended conversation is a fresh one
	c.Count++
	if c.Started.IsZero() {
		c.Started = now
	}
	c.LastActive = now
}

// finishTurn records the turn and the retry record, trimming both to their
// limits (oldest first).
func (c *Conversation) finishTurn(t Turn, h Handled, historySize, retryRecords int) {
	if historySize > 0 {
		c.History = appendBounded(c.History, t, historySize)
	} else {
		c.History = nil
	}
	if h.ID != "" && retryRecords > 0 {
		c.Handled = appendBounded(c.Handled, h, retryRecords)
	}
}

// restart returns the fresh conversation that follows an ended one: same
// key and version (so the store's compare-and-set still applies), no count,
// state or history, but the retry records kept.
func (c *Conversation) restart() *Conversation {
	return &Conversation{Key: c.Key, Version: c.Version, Handled: c.Handled, Ended: true}
}

// appendBounded appends v to s, dropping the oldest elements so that at most
// limit remain. It reuses s's array when it can.
func appendBounded[E any](s []E, v E, limit int) []E {
	if len(s) >= limit {
		n := copy(s, s[len(s)-limit+1:])
		s = s[:n]
	}
	return append(s, v)
}
