package convo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
)

// post sends a webhook form to h as Twilio would, signed with token when it
// is not empty, and returns the status and body of the answer.
func examplePost(h http.Handler, token string, form url.Values) (int, string) {
	const webhook = "https://example.com/sms"
	req := httptest.NewRequest(http.MethodPost, webhook, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", convotest.Signature(token, webhook, form))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// withoutTime drops the time from log lines, for stable example output.
func withoutTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func exampleForm(body, sid string) url.Values {
	return url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {body}, "MessageSid": {sid}}
}

// A Handler mounted on a ServeMux beside other routes. Webhooks must carry
// Twilio's signature for the auth token: an unsigned one gets 403.
func ExampleNewHandler() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	const token = "your-twilio-auth-token"
	h, err := convo.NewHandler(convo.Config{
		Store:     store,
		AuthToken: token,
		// Log lines never hold the token, the text or full numbers.
		Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: withoutTime})),
		// Behind a tunnel or proxy, give the URL Twilio is configured with:
		// PublicURL: "https://example.com",
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			return convo.Textf("%d: %s", c.Count, strings.ToUpper(m.Body)), nil
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)

	status, _ := examplePost(mux, "", exampleForm("hello", "SM1"))
	fmt.Println("unsigned:", status)
	status, body := examplePost(mux, token, exampleForm("hello", "SM1"))
	fmt.Println("signed:", status, body)
	// Output:
	// level=WARN msg="convo: refused webhook: invalid Twilio signature" url=https://example.com/sms status=403 remote=192.0.2.1:1234
	// unsigned: 403
	// signed: 200 <?xml version="1.0" encoding="UTF-8"?><Response><Message>1: HELLO</Message></Response>
}

// NewHandler refuses a configuration it cannot run safely.
func ExampleNewHandler_errors() {
	_, err := convo.NewHandler(convo.Config{})
	fmt.Println(err)
	_, err = convo.NewHandler(convo.Config{Store: memstore.New(memstore.Options{SweepInterval: -1})})
	fmt.Println(err)
	// Output:
	// convo: Config.Store is required
	// convo: Config.AuthToken is required (or set InsecureSkipSignatureCheck, for local development only)
}

// Greeter is the seed's reply function: Twilio's SMS conversation guide.
func ExampleGreeter() {
	reply := convo.Greeter(convo.SeedNames())
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.Count = 3 // the Handler counts the message before calling the reply function
	r, _ := reply(context.Background(), c, &convo.Message{From: "+14158675308", To: "+15005550006"})
	fmt.Println(r)
	r, _ = reply(context.Background(), c, &convo.Message{From: "+19995550000", To: "+15005550006"})
	fmt.Println(r)
	// Output:
	// Rey has messaged +15005550006 3 times
	// Friend has messaged +15005550006 3 times
}

// The seed's names, by phone number.
func ExampleSeedNames() {
	fmt.Println(convo.SeedNames()["+12349013030"])
	// Output: Finn
}

// exampleOrder is an application's typed state: no maps of any, no assertions.
type exampleOrder struct {
	Items []string `json:"items"`
	Done  bool     `json:"done"`
}

// WithState hands the reply function its state as a *T, decoded before and
// stored after each message.
func ExampleWithState() {
	reply := convo.WithState(func(ctx context.Context, c *convo.Conversation, m *convo.Message, o *exampleOrder) (convo.Reply, error) {
		if strings.EqualFold(m.Body, "done") {
			o.Done = true
			return convo.Textf("Ordered: %s.", strings.Join(o.Items, ", ")), nil
		}
		o.Items = append(o.Items, m.Body)
		return convo.Textf("%d in your basket. Text DONE to order.", len(o.Items)), nil
	})

	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	for _, body := range []string{"tea", "scone", "done"} {
		r, err := reply(context.Background(), c, &convo.Message{Body: body})
		if err != nil {
			panic(err)
		}
		fmt.Println(r)
	}
	fmt.Println(string(c.State))
	// Output:
	// 1 in your basket. Text DONE to order.
	// 2 in your basket. Text DONE to order.
	// Ordered: tea, scone.
	// {"items":["tea","scone"],"done":true}
}

// StateOf decodes the state; a conversation without state gives the zero
// value.
func ExampleStateOf() {
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	o, err := convo.StateOf[exampleOrder](c)
	fmt.Printf("%+v %v\n", o, err)

	c.State = []byte(`{"items":["tea"]}`)
	o, err = convo.StateOf[exampleOrder](c)
	fmt.Printf("%+v %v\n", o, err)

	_, err = convo.StateOf[int](c)
	fmt.Println(err != nil)
	// Output:
	// {Items:[] Done:false} <nil>
	// {Items:[tea] Done:false} <nil>
	// true
}

// SetState stores any JSON-encodable value as the state, saved with the
// conversation when the turn ends.
func ExampleSetState() {
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	if err := convo.SetState(c, exampleOrder{Items: []string{"coffee"}}); err != nil {
		panic(err)
	}
	fmt.Println(string(c.State))
	fmt.Println(convo.SetState(c, func() {}) != nil) // not encodable
	// Output:
	// {"items":["coffee"],"done":false}
	// true
}

// Text is a reply of one message; its TwiML escapes whatever the text holds.
func ExampleText() {
	fmt.Println(string(convo.Text(`Fish & chips <today>`).TwiML()))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Fish &amp; chips &lt;today&gt;</Message></Response>
}

func ExampleTextf() {
	fmt.Println(convo.Textf("%d times", 3))
	// Output: 3 times
}

// A reply of two messages, one with a picture, and a redirect; the zero
// Reply answers nothing.
func ExampleReply_TwiML() {
	r := convo.Reply{
		Messages: []convo.Outgoing{
			{Body: "Here is the map."},
			{Body: "Store front", Media: []string{"https://example.com/shop.jpg"}},
		},
		Redirect: &convo.Redirect{URL: "https://example.com/next"},
	}
	fmt.Println(string(r.TwiML()))
	fmt.Println(string(convo.Reply{}.TwiML()))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Here is the map.</Message><Message><Body>Store front</Body><Media>https://example.com/shop.jpg</Media></Message><Redirect>https://example.com/next</Redirect></Response>
	// <?xml version="1.0" encoding="UTF-8"?><Response/>
}

// String is what History keeps of a reply: its texts, one per line.
func ExampleReply_String() {
	r := convo.Reply{Messages: []convo.Outgoing{{Body: "one"}, {Body: "two"}}}
	fmt.Printf("%q\n", r.String())
	// Output: "one\ntwo"
}

// AppendTwiML renders into a buffer of the caller's, without allocating
// when it is large enough.
func ExampleReply_AppendTwiML() {
	buf := make([]byte, 0, 256)
	buf = convo.Text("hi").AppendTwiML(buf)
	fmt.Println(string(buf))
	// Output: <?xml version="1.0" encoding="UTF-8"?><Response><Message>hi</Message></Response>
}

// Elements gives the reply as twilio-go's TwiML verbs, for code that builds
// documents with its twiml package.
func ExampleReply_Elements() {
	doc, err := twiml.Messages(convo.Text("hi").Elements())
	if err != nil {
		panic(err)
	}
	fmt.Println(doc)
	// Output: <?xml version="1.0" encoding="UTF-8"?><Response><Message>hi</Message></Response>
}

// ParseMessage types a webhook form; every parameter stays in Params.
func ExampleParseMessage() {
	form := url.Values{
		"MessageSid": {"SM0123"}, "From": {"whatsapp:+14158675308"}, "To": {"whatsapp:+15005550006"},
		"Body": {"look"}, "NumMedia": {"1"}, "ProfileName": {"Rey"}, "FromCountry": {"US"},
		"MediaUrl0": {"https://api.twilio.com/media/ME1"}, "MediaContentType0": {"image/jpeg"},
	}
	m, err := convo.ParseMessage(form)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Channel, m.ProfileName, m.Body, m.Media[0].ContentType, m.Params.Get("FromCountry"))
	fmt.Println(m.Key().Redacted())

	_, err = convo.ParseMessage(url.Values{"Body": {"no From, no To"}})
	fmt.Println(errors.Is(err, convo.ErrMalformed))
	// Output:
	// whatsapp Rey look image/jpeg US
	// whatsapp:…5308/whatsapp:…0006
	// true
}

// A message's key is its From/To pair: its conversation.
func ExampleMessage_Key() {
	m := &convo.Message{From: "+14158675308", To: "+15005550006"}
	fmt.Println(m.Key() == convo.Key{From: "+14158675308", To: "+15005550006"})
	// Output: true
}

// End answers the current message, then forgets the conversation: the next
// message starts a fresh one.
func ExampleConversation_End() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, _ := convo.NewHandler(convo.Config{
		Store:                      store,
		InsecureSkipSignatureCheck: true, // tests only
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "bye" {
				c.End()
				return convo.Text("Bye!"), nil
			}
			return convo.Textf("message %d", c.Count), nil
		},
	})
	for i, body := range []string{"hi", "hi", "bye", "hi"} {
		_, answer := examplePost(h, "", exampleForm(body, fmt.Sprint("SM", i)))
		r, _ := convotest.ParseTwiML([]byte(answer))
		fmt.Println(r)
	}
	// Output:
	// message 1
	// message 2
	// Bye!
	// message 1
}

// A conversation is new until a store saves it.
func ExampleConversation_IsNew() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	ctx := context.Background()
	key := convo.Key{From: "+14158675308", To: "+15005550006"}
	c, _ := store.Load(ctx, key)
	fmt.Println(c.IsNew())
	_ = store.Save(ctx, c)
	c, _ = store.Load(ctx, key)
	fmt.Println(c.IsNew())
	// Output:
	// true
	// false
}

// Replayed finds the answer given to a message id: how a Twilio retry gets
// the same reply again without running the turn twice.
func ExampleConversation_Replayed() {
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.Handled = []convo.Handled{{ID: "SM1", Reply: convo.Text("first").TwiML()}}
	twimlDoc, ok := c.Replayed("SM1")
	fmt.Println(ok, string(twimlDoc))
	_, ok = c.Replayed("SM2")
	fmt.Println(ok)
	// Output:
	// true <?xml version="1.0" encoding="UTF-8"?><Response><Message>first</Message></Response>
	// false
}

// Clone gives a deep copy: changing it leaves the original alone.
func ExampleConversation_Clone() {
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.History = []convo.Turn{{In: "hi"}}
	d := c.Clone()
	d.History[0].In = "changed"
	fmt.Println(c.History[0].In, d.History[0].In)
	// Output: hi changed
}

// The compact binary record format stores keep conversations in.
func ExampleConversation_MarshalBinary() {
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.Count = 2
	c.History = []convo.Turn{{In: "hi", Out: "hello"}}
	data, _ := c.MarshalBinary()

	var d convo.Conversation
	if err := d.UnmarshalBinary(data); err != nil {
		panic(err)
	}
	fmt.Println(d.Key.Redacted(), d.Count, d.History[0].Out)
	fmt.Println(errors.Is(d.UnmarshalBinary([]byte{99}), convo.ErrCorrupt))
	// Output:
	// …5308/…0006 2 hello
	// true
}

// Redacted is the form of a key for logs and errors: never full numbers.
func ExampleKey_Redacted() {
	k := convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"}
	fmt.Println(k.Redacted())
	// Output: whatsapp:…5308/whatsapp:…0006
}

// String is a stable database key; ParseKey reads it back.
func ExampleKey_String() {
	k := convo.Key{From: "whatsapp:+14158675308", To: "+15005550006"}
	s := k.String()
	fmt.Println(s)
	back, err := convo.ParseKey(s)
	fmt.Println(back == k, err)
	// Output:
	// whatsapp:+14158675308/+15005550006
	// true <nil>
}

func ExampleParseKey() {
	_, err := convo.ParseKey("no-separator")
	fmt.Println(err)
	// Output: convo: key "…ator" has no separator
}

func ExampleRedact() {
	fmt.Println(convo.Redact("+14158675308"), convo.Redact("whatsapp:+14158675308"), convo.Redact("abc"))
	// Output: …5308 whatsapp:…5308 …
}

// MarshalRecord writes the versioned JSON record that stores keeping bytes
// may use; an operator can read it with any JSON tool.
func ExampleMarshalRecord() {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.Count, c.Started, c.LastActive = 1, start, start
	c.History = []convo.Turn{{At: start, In: "hi", Out: "hello"}}
	_ = convo.SetState(c, exampleOrder{Items: []string{"tea"}})
	data, err := convo.MarshalRecord(c)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(data))
	// Output:
	// {"v":1,"from":"+14158675308","to":"+15005550006","count":1,"started":"2026-11-26T12:00:00Z","last_active":"2026-11-26T12:00:00Z","history":[{"at":"2026-11-26T12:00:00Z","in":"hi","out":"hello"}],"state":{"items":["tea"],"done":false}}
}

// UnmarshalRecord reads records of this and earlier format versions, and
// refuses what it cannot read without loss.
func ExampleUnmarshalRecord() {
	c, err := convo.UnmarshalRecord([]byte(`{"v":1,"from":"+14158675308","to":"+15005550006","count":4}`))
	fmt.Println(c.Count, err)
	_, err = convo.UnmarshalRecord([]byte(`{"v":99,"from":"+14158675308","to":"+15005550006"}`))
	fmt.Println(errors.Is(err, convo.ErrCorrupt))
	// Output:
	// 4 <nil>
	// true
}

// An Expiry on a test clock: the conversation lives four idle hours, and at
// most a day however busy it is.
func ExampleExpiry() {
	clock := convotest.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	e := convo.Expiry{Lifetime: 24 * time.Hour, Now: clock.Now}
	c := convo.NewConversation(convo.Key{From: "+14158675308", To: "+15005550006"})
	c.Started, c.LastActive = clock.Now(), clock.Now()

	fmt.Println(e.IdleTimeout(), e.ExpiresAt(c).Format(time.Kitchen), e.Expired(c))
	clock.Advance(4 * time.Hour)
	fmt.Println(e.Expired(c))

	c.LastActive = c.Started.Add(22 * time.Hour)
	fmt.Println(e.ExpiresAt(c).Sub(c.Started)) // the lifetime wins
	// Output:
	// 4h0m0s 1:00PM false
	// true
	// 24h0m0s
}

// A store given an Expiry forgets idle conversations: Load then returns a
// fresh one.
func ExampleExpiry_store() {
	clock := convotest.NewClock(time.Time{})
	store := memstore.New(memstore.Options{Expiry: convo.Expiry{Idle: 30 * time.Minute, Now: clock.Now}})
	defer store.Close()
	ctx := context.Background()
	key := convo.Key{From: "+14158675308", To: "+15005550006"}

	c, _ := store.Load(ctx, key)
	c.Count, c.LastActive = 1, clock.Now()
	_ = store.Save(ctx, c)
	clock.Advance(29 * time.Minute)
	c, _ = store.Load(ctx, key)
	fmt.Println(c.Count)
	clock.Advance(time.Minute)
	c, _ = store.Load(ctx, key)
	fmt.Println(c.Count, c.IsNew())
	// Output:
	// 1
	// 0 true
}

// Every Save is a compare-and-set: of two writers that loaded the same
// version, the second gets ErrConflict and must load again.
func ExampleStore() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	ctx := context.Background()
	key := convo.Key{From: "+14158675308", To: "+15005550006"}

	a, _ := store.Load(ctx, key)
	b, _ := store.Load(ctx, key)
	a.Count++
	fmt.Println(store.Save(ctx, a))
	b.Count++
	err := store.Save(ctx, b)
	fmt.Println(errors.Is(err, convo.ErrConflict))

	// The usual loop: load, change, save; on conflict, again.
	for {
		c, err := store.Load(ctx, key)
		if err != nil {
			panic(err)
		}
		c.Count++
		if err = store.Save(ctx, c); !errors.Is(err, convo.ErrConflict) {
			break
		}
	}
	c, _ := store.Load(ctx, key)
	fmt.Println(c.Count)
	// Output:
	// <nil>
	// true
	// 2
}

// The Handler gives every Store call the webhook's HTTP exchange, so a
// store may keep the conversation in Twilio's cookie.
func ExampleExchangeFrom() {
	req := httptest.NewRequest(http.MethodPost, "/sms", nil)
	req.AddCookie(&http.Cookie{Name: "convo", Value: "abc"})
	answer := http.Header{}
	ctx := convo.WithExchange(context.Background(), &convo.Exchange{Request: req, Header: answer})

	// Inside a store's Load or Save:
	x, ok := convo.ExchangeFrom(ctx)
	cookie, _ := x.Request.Cookie("convo")
	fmt.Println(ok, cookie.Value)
	x.Header.Add("Set-Cookie", (&http.Cookie{Name: "convo", Value: "def"}).String())
	fmt.Println(answer.Get("Set-Cookie"))

	_, ok = convo.ExchangeFrom(context.Background())
	fmt.Println(ok)
	// Output:
	// true abc
	// convo=def
	// false
}
