// Package cookiestore keeps each conversation in Twilio's cookie: no server
// state at all, so any number of stateless webhook servers sharing the keys
// can answer one conversation.
//
// Twilio keeps one cookie per From/To pair and sends it back with the
// pair's next message, for up to four idle hours. The store puts the
// conversation's record into that one cookie, signed with HMAC-SHA256 and
// encrypted with AES-256 by gorilla/securecookie, bound to the pair (a
// cookie moved to another pair fails as if tampered), DEFLATE-compressed
// only when it does not fit otherwise:
//
//	keys, err := cookiestore.ParseKeys(os.Getenv("CONVO_COOKIE_KEYS"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	store, err := cookiestore.New(cookiestore.Options{Keys: keys})
//
// The store needs the webhook's HTTP exchange, which convo's Handler puts
// in the context of every store call (convo.ExchangeFrom): Load reads the
// request's Cookie header and Save sets the answer's Set-Cookie, with a
// Max-Age of the time to live the Handler gives, at most four hours. The
// whole Set-Cookie line is held to 4096 bytes (MaxLine). Cookies are
// written with the first key pair and read with any, so keys rotate by
// putting a new pair first. A cookie that is tampered with, truncated,
// expired, another pair's or signed with a retired key loads as nothing,
// with a debug log line: never an error.
//
// The store is convo.ClientHeld, and so cannot guarantee what a
// server-side store does: messages of one pair that arrive together carry
// the same cookie, and the answer Twilio stores last wins, losing the
// others' updates; an old cookie sent again (a signed webhook can be
// replayed with any cookie, as Twilio's docs warn) rolls the conversation
// back; a retry of a message whose answer never reached Twilio is handled
// again; and nothing can read or end a conversation outside a webhook.
// When every message must count, use memstore, sqlstore or redisstore.
// README.md has the details.
package cookiestore
