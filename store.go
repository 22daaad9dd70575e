package convo

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultIdle is how long a conversation lives without traffic unless a store
// is told otherwise: four hours, the lifetime Twilio gives its cookies.
const DefaultIdle = 4 * time.Hour

// Errors that stores return and callers branch on with [errors.Is]. Stores
// wrap them with detail; they never return them bare of context where more
// can be said.
var (
	// ErrConflict is returned by Save when the stored conversation changed
	// since it was loaded (its version moved on, or it was deleted or
	// saved by someone else first). Nothing was written. Load again and
	// redo the change.
	ErrConflict = errors.New("convo: conversation changed since it was loaded")

	// ErrTooLarge is returned by Save when the conversation cannot be
	// stored within the store's size limit, even after trimming what the
	// store may trim (history). Nothing was written.
	ErrTooLarge = errors.New("convo: conversation too large for the store")

	// ErrCorrupt is returned by Load when the stored record cannot be
	// decoded, or was written by a newer, unknown record format. The
	// record is left as it is, never overwritten with a fresh conversation.
	// (A store that keeps state on the client, such as cookiestore, treats
	// a tampered record as missing instead, and says so in its doc.)
	ErrCorrupt = errors.New("convo: stored conversation cannot be decoded")

	// ErrClosed is returned by calls on a store that has been closed.
	ErrClosed = errors.New("convo: store closed")

	// ErrNoExchange is returned by a store that keeps the conversation in
	// the webhook's HTTP exchange (cookiestore) when the context it is
	// given carries none; see [WithExchange].
	ErrNoExchange = errors.New("convo: no HTTP exchange in context")
)

// Store keeps conversations between messages.
//
// The contract, which [github.com/smsconvo/convo/convotest.TestStore]
// checks for any implementation:
//
//   - Load returns the conversation saved under key. When nothing is stored,
//     or what is stored has expired (see [Expiry]), it returns a fresh
//     conversation from [NewConversation] (Version 0) and no error. A
//     record that cannot be decoded gives an error wrapping [ErrCorrupt]
//     and is left in place. The returned conversation belongs to the
//     caller: changing it changes nothing stored until Save.
//
//   - Save stores c if and only if the stored version still equals
//     c.Version (0 meaning "nothing stored, or only something expired"),
//     and then sets c.Version to the new, different, non-zero version.
//     Otherwise it writes nothing and returns an error wrapping
//     [ErrConflict]. Two Saves from one Load can therefore never both
//     succeed, in one process or across many: no update is ever lost. A
//     conversation with Ended set may be stored as the store likes, as
//     long as the next Load yields a conversation with Count 0 (stores may
//     keep its retry records). Save expires the record at
//     [Expiry.ExpiresAt] of c; it never changes c's other fields, except
//     that a size-limited store may drop the oldest History turns.
//
//   - Delete removes what is stored under key. Deleting a missing key is a
//     no-op and no error.
//
//   - Every call honours ctx: a cancelled or expired context makes it
//     return an error wrapping ctx.Err() promptly, and a Save that returns
//     an error has written nothing (or, where the store cannot tell,
//     the whole record, never part of it).
//
//   - All methods are safe for concurrent use.
//
// The [Handler] passes every call a context carrying the webhook's HTTP
// exchange (see [ExchangeFrom]), so a store may keep the conversation in
// the request's cookie and the answer's Set-Cookie header instead of on a
// server. A store may also have a method DefaultRetryRecords() int, to
// choose how many retry records the Handler keeps in its conversations
// unless [Config].RetryRecords says otherwise (cookiestore keeps 1).
type Store interface {
	Load(ctx context.Context, key Key) (*Conversation, error)
	Save(ctx context.Context, c *Conversation) error
	Delete(ctx context.Context, key Key) error
}

// Expiry says when a conversation ends for lack of traffic. Stores take one
// in their options; its zero value means Twilio's four idle hours, no
// absolute limit, and the system clock.
type Expiry struct {
	// Idle is how long a conversation lives after its last message;
	// 0 means DefaultIdle (4 hours).
	Idle time.Duration

	// Lifetime, when positive, ends a conversation this long after its
	// first message, however busy it is.
	Lifetime time.Duration

	// Now is the clock; nil means time.Now. Tests inject one to make
	// hours pass instantly.
	Now func() time.Time
}

// IdleTimeout returns e.Idle, or DefaultIdle when it is not positive.
func (e Expiry) IdleTimeout() time.Duration {
	if e.Idle > 0 {
		return e.Idle
	}
	return DefaultIdle
}

// Time returns the current time on e's clock.
func (e Expiry) Time() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// ExpiresAt returns when c expires: its LastActive plus the idle timeout, or
// its Started plus the Lifetime if that is sooner. A conversation that has
// never been active (zero LastActive) counts as active now.
func (e Expiry) ExpiresAt(c *Conversation) time.Time {
	last := c.LastActive
	if last.IsZero() {
		last = e.Time()
	}
	at := last.Add(e.IdleTimeout())
	if e.Lifetime > 0 && !c.Started.IsZero() {
		if end := c.Started.Add(e.Lifetime); end.Before(at) {
			at = end
		}
	}
	return at
}

// Expired reports whether c has expired at the current time.
func (e Expiry) Expired(c *Conversation) bool {
	return !e.Time().Before(e.ExpiresAt(c))
}

// Exchange is the HTTP exchange of the webhook being answered: the request
// Twilio sent and the header of the answer. The [Handler] puts it in the
// context of every Store call (see [WithExchange]), so that a store keeping
// the conversation in Twilio's cookie can read the request's Cookie header
// and set exactly one Set-Cookie on the answer.
type Exchange struct {
	Request *http.Request
	Header  http.Header // the answer's header, still writable during Store calls
}

type exchangeKey struct{}

// WithExchange returns a context carrying x.
func WithExchange(ctx context.Context, x *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// ExchangeFrom returns the exchange ctx carries, if any.
func ExchangeFrom(ctx context.Context) (*Exchange, bool) {
	x, ok := ctx.Value(exchangeKey{}).(*Exchange)
	return x, ok && x != nil
}
