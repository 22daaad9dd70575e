// Package cookiestore keeps each conversation in Twilio's cookie: no server
// state at all, so any number of stateless webhook servers sharing the keys
// can answer one conversation.
//
// Twilio keeps one cookie per From/To pair and sends it back with the
// pair's next message, for up to four idle hours. The store puts the whole
// conversation (count, times, history, application state and the retry
// records that answer Twilio's retries byte for byte) into that one cookie,
// signed with HMAC-SHA256 and encrypted with AES-256 by
// github.com/gorilla/securecookie:
//
//	keys, err := cookiestore.ParseKeys(os.Getenv("CONVO_COOKIE_KEYS"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	store, err := cookiestore.New(cookiestore.Options{Keys: keys})
//
// The store needs the webhook's HTTP exchange, which convo's Handler puts
// in the context of every call (convo.ExchangeFrom): Load reads the
// request's Cookie header and Save sets the answer's Set-Cookie. Called
// without one, every method fails with convo.ErrNoExchange.
//
// # The cookie
//
// One cookie, named "convo" unless Options.CookieName says otherwise,
// HttpOnly, Secure (unless Options.Insecure), Path "/" (Options.Path), and
// Max-Age the time until the conversation expires (convo.Expiry), at most
// four hours, set again with every answer so the window slides. Its value
// is securecookie's: base64 of a timestamp, the AES-CTR ciphertext (random
// IV) and an HMAC covering the cookie name and the conversation's From/To
// pair, so a cookie carried to another pair fails as if tampered. The
// plaintext is a compact binary record with a format version byte (see
// codec.go): times in milliseconds, Twilio SIDs packed into 18 bytes, and
// retry replies abbreviated where they can be rebuilt exactly (a reply
// equal to its turn's text wrapped in <Message> costs two bytes). A record
// is DEFLATE-compressed only when it does not fit otherwise.
//
// A counter conversation with the Handler's defaults (4 turns, and 1
// retry record, this store's choice: see Store.DefaultRetryRecords) takes
// a Set-Cookie line of about 440 bytes; each further retry record adds
// about 45. The whole line is held to 4096 bytes (MaxLine); Save
// compresses, then drops the oldest History turns (from c too) until it
// fits, and when the state and retry records alone cannot fit it fails
// with a *TooLargeError, which matches convo.ErrTooLarge, and sets no
// cookie. In practice that leaves room for about 2.8 KB of incompressible
// application state beside the default turns and retry record, and far
// more if it compresses well (up to 64 KiB uncompressed).
//
// # Keys and rotation
//
// Options.Keys lists key pairs newest first: cookies are written with the
// first and read with any. To rotate, put a new pair first and deploy;
// once every conversation has been answered since (four hours at most),
// drop the old pair. A cookie signed with a pair no longer listed starts a
// fresh conversation. ParseKeys reads pairs from text (CONVO_COOKIE_KEYS),
// GenerateKeyPair makes one, FormatKeys writes them.
//
// # Refused cookies
//
// A cookie that is tampered with, truncated, expired (judged from the
// times inside it, on Options.Expiry's clock), another pair's, signed with
// a retired key, or written by an unknown later record format starts a
// fresh conversation, with a debug line on Options.Logger naming the
// reason; never an error, never a 5xx. Load never returns
// convo.ErrCorrupt: a record the client holds cannot be kept for
// inspection, and a webhook must not fail for what a client sends.
//
// # What a client-held store cannot guarantee
//
// The Store contract's compare-and-set holds only within one request:
// Save refuses (convo.ErrConflict) a conversation whose version is not the
// one in this request's cookie. The store cannot see what was answered to
// other requests, so:
//
//   - Two webhooks of one pair that carry the same cookie (Twilio sends a
//     pair's messages in parallel when they arrive together) both load the
//     same state, and the cookie of the answer Twilio stores last wins: the
//     other turns' updates are lost. Measured through convo.Handler with
//     Twilio's cookie rules (convotest.CookieJar), one message, then 40 at
//     once, then one more: when the 40 carry the cookie of the first
//     answer, the last message counts 3 instead of 42 (39 updates lost);
//     sent concurrently over loopback HTTP, each taking the cookie Twilio
//     held when it was sent, it counted 3 in 47 runs of 50 and 4 to 7 in
//     the other three (35 to 39 of the 40 updates lost). Twilio's docs
//     warn of this race themselves.
//
//   - An old cookie sent again (replayed: a signed webhook can be replayed
//     with any cookie, as Twilio's docs say) rolls the conversation back to
//     what that cookie held, as long as it has not expired.
//
//   - A retry of a message whose answer never reached Twilio brings the
//     old cookie, without the answer's retry record, and is handled again:
//     the reply function runs twice, though the conversation counts the
//     message once (the first answer's state was lost with it).
//
//   - Delete works only while answering a webhook: it expires the cookie
//     in the answer. A conversation cannot be ended or read from outside.
//
// When lost updates matter (bursts of messages, or anything that must be
// counted exactly), use a server-side store: memstore for one server,
// sqlstore or redisstore for a fleet. They serialize a pair's turns and
// never lose an update.
//
// # Ended conversations
//
// When the reply function ends the conversation, the Handler saves a fresh
// conversation holding only the retry records. The store keeps just those
// in the cookie (whatever else a conversation saved with Ended holds) for
// Options.EndedRetention, 2 minutes by default: long enough for Twilio's
// retries of the ending message to get the same answer. Then the cookie
// expires. Without retry records, with a negative EndedRetention, or when
// the records alone do not fit, the cookie is expired at once. The next
// message loads a fresh conversation (Ended not set) with those records.
//
// # Speed
//
// Loading decrypts the cookie; saving encrypts a new one. A store also
// remembers the last 256 cookie values it signed or verified, each with
// its decrypted record: when a pair's next message brings back the very
// value (compared byte for byte, so this proves what decryption would),
// the store skips decrypting. This only saves work; a fleet of servers reads
// every cookie from the cookie. BenchmarkWebhook runs a full counter
// webhook through convo.Handler on this store, one server and two in turn,
// and the same counter on gorilla/sessions' CookieStore; see the README for
// figures.
package cookiestore
