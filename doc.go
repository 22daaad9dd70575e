// Package convo turns Twilio's separate SMS and WhatsApp webhooks into
// conversations.
//
// SMS is stateless: every inbound message reaches your webhook as its own
// HTTP request. convo's [Handler] checks Twilio's signature, loads the
// [Conversation] of the message's From/To pair from a [Store], calls your
// [ReplyFunc], saves the conversation and answers TwiML. No update is lost,
// even across a fleet of servers sharing a store, and a retry of a message
// already answered gets the same answer again without being counted twice.
//
// Mount it on any mux:
//
//	h, err := convo.NewHandler(convo.Config{
//		Store:     memstore.New(memstore.Options{}),
//		AuthToken: os.Getenv("TWILIO_AUTH_TOKEN"),
//		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
//			if c.Count == 1 {
//				return convo.Text("Welcome! Text me again."), nil
//			}
//			return convo.Textf("Message %d: you said %q", c.Count, m.Body), nil
//		},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("POST /sms", h)
//
// The stores live in packages of their own: memstore (one process),
// cookiestore (the conversation in Twilio's cookie, no server state),
// sqlstore (SQLite, PostgreSQL, MySQL/MariaDB) and redisstore. Package
// convotest checks any Store against the contract and fakes Twilio for
// end-to-end tests.
//
// # How it fits together
//
// One webhook, in order, and the file that does each step:
//
//  1. handler.go, ServeHTTP: refuse what Twilio would not send (405, 413,
//     415, 400), read the form.
//  2. signature.go: check X-Twilio-Signature over the URL and every value
//     of every parameter, with the auth token or a SharedKey (403).
//  3. message.go: a status callback goes to Config.OnStatus and ends here;
//     anything else is parsed into a [Message], its opt-out keyword
//     included (400 when From or To is missing or too long).
//  4. keylock.go: wait for the pair's previous turn in this process.
//  5. handler.go, turn: the Store loads the record and its version;
//     record.go decodes it. A message the conversation has already
//     answered gets its recorded TwiML again, and nothing else happens.
//     A conversation past its idle time or lifetime, ended, or opted back
//     in starts fresh.
//  6. handler.go, callReply: the reply function runs in a goroutine of its
//     own under the reply timeout; a failure, panic or timeout answers the
//     Fallback and saves nothing.
//  7. twiml.go: the reply is split to Twilio's message length and
//     rendered; conversation.go records the turn in History and the TwiML
//     as a retry record.
//  8. record.go encodes the conversation and the Store saves it if its
//     version is still the one loaded. Another server saved first: back to
//     step 5 on its state. Too large for the store: drop the oldest turns
//     and save again.
//  9. The TwiML is answered, and an [Observer], if any, gets an [Event].
//
// Where each concern lives, once for every store:
//
//   - Encoding: record.go, one JSON record (readable with any JSON tool or
//     with SQL).
//   - Versions: the Handler makes them (random, never reused); stores
//     compare and set them.
//   - Expiry: the Handler decides (Config.Idle, Config.Lifetime) from the
//     conversation's times, and gives stores a time to live, after which
//     they free the record.
//   - Retry records: conversation.go keeps them by time (Config.RetryWindow)
//     inside the record, so one compare-and-set saves them with the count.
//   - Trimming to a size: a store refuses with [ErrTooLarge]; the Handler
//     drops History turns.
//   - Speed: a Handler skips decoding a record it saved itself (recent.go),
//     and decodes forms in place (handler.go); BENCHMARKS.md shows what
//     each buys.
//   - The HTTP exchange: only a ClientHeld store's calls see it
//     (cookiestore keeps the conversation there); the reply function's
//     context is the request's.
//
// A store therefore moves bytes with a version and a time to live, as
// memstore's 150 lines show; a new one proves itself with
// convotest.TestStore.
//
// Application state is typed: keep your own struct in the conversation with
// [WithState], or [StateOf] and [SetState].
package convo
