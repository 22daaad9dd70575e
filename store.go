package convo

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Errors that stores return, wrapped with detail, and callers branch on
// with [errors.Is].
var (
	// ErrConflict: Save found another version stored than the one it was
	// to replace. Nothing was written.
	ErrConflict = errors.New("convo: conversation changed since it was loaded")

	// ErrTooLarge: Save cannot store a record this large. Nothing was
	// written. The Handler then drops the oldest History turns and saves
	// again.
	ErrTooLarge = errors.New("convo: conversation too large for the store")

	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("convo: store closed")

	// ErrNoExchange: a store that keeps records in the webhook's cookie
	// was called without the exchange the Handler gives it (see
	// [WithExchange]).
	ErrNoExchange = errors.New("convo: no HTTP exchange in context")
)

// Store keeps the record of each conversation between its messages. It
// moves bytes: the Handler encodes conversations, decides when they expire,
// keeps their retry records and trims them to fit, once for every store.
// [github.com/smsconvo/convo/convotest.TestStore] checks any implementation
// against this contract.
//
// Load returns the record saved under key and its version. When nothing is
// stored, or the record has outlived the time to live it was saved with, it
// returns nil, 0 and no error. The caller does not modify data.
//
// Save stores data under key, to live for ttl, if the version stored is
// still prev (0: nothing stored, or only a record that has outlived its
// time to live), and marks it with version next (never 0 nor prev);
// otherwise it writes nothing and returns an error wrapping [ErrConflict].
// Two Saves with the same prev can therefore never both succeed, in one
// process or across many. The store owns data once Save is called; a store
// with a size limit returns an error wrapping [ErrTooLarge] for a record
// over it. A Save that fails has written nothing or, where the store cannot
// tell (a connection lost after the write), the whole record.
//
// Delete removes the record stored under key. Deleting a missing key is a
// no-op and no error.
//
// Every method honours ctx, returning an error wrapping ctx.Err() promptly
// once it ends, and is safe for concurrent use. A closed store's methods
// return errors wrapping [ErrClosed].
type Store interface {
	Load(ctx context.Context, key Key) (data []byte, version uint64, err error)
	Save(ctx context.Context, key Key, data []byte, ttl time.Duration, prev, next uint64) error
	Delete(ctx context.Context, key Key) error
}

// ClientHeld is the optional interface of a Store that keeps each record
// with Twilio, in the webhook's cookie, instead of on a server
// (cookiestore). Such a store reads the record from the request and sets
// it in the answer (see [ExchangeFrom]), and so:
//
//   - its compare-and-set holds within one webhook only: messages of one
//     pair that arrive together carry the same cookie, and the answer
//     Twilio stores last wins;
//   - a retry can match only the retry record of the newest answer, the
//     only one the Handler keeps with it.
//
// A type wrapping such a store (for metrics, say) must implement
// ClientHeld too, as wrappers of an http.ResponseWriter must implement
// http.Flusher to keep it: the Handler gives the exchange to ClientHeld
// stores only.
type ClientHeld interface {
	Store
	// HeldByClient marks the store; it does nothing.
	HeldByClient()
}

// Exchange is the HTTP exchange of the webhook being answered: the request
// Twilio sent and the header of the answer. The Handler puts it in the
// context of every call of a ClientHeld store, and only there, so that the
// store can read the request's Cookie header and set the answer's
// Set-Cookie.
type Exchange struct {
	Request *http.Request
	Header  http.Header // the answer's header, still writable during Store calls
}

type exchangeKey struct{}

// WithExchange returns a context carrying x, as the Handler gives it to
// Store calls.
func WithExchange(ctx context.Context, x *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// ExchangeFrom returns the exchange ctx carries, if any.
func ExchangeFrom(ctx context.Context) (*Exchange, bool) {
	x, ok := ctx.Value(exchangeKey{}).(*Exchange)
	return x, ok && x != nil
}
