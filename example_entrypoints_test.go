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
	"sync"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
)

// examplePost sends a webhook form to h as Twilio would, signed with token
// when it is not empty, and returns the status and body of the answer.
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
		Reply:     convo.Greeter(convo.SeedNames()),
		AuthToken: token,
		// Log lines never hold the token, the text or full numbers.
		Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: withoutTime})),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)

	fmt.Println(examplePost(mux, token, exampleForm("hi", "SM1")))
	fmt.Println(examplePost(mux, "", exampleForm("hi", "SM2")))
	// Output:
	// 200 <?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 1 times</Message></Response>
	// level=WARN msg="convo: refused webhook" status=403 remote=192.0.2.1:1234 error="invalid Twilio signature: no X-Twilio-Signature"
	// 403 Forbidden
}

func ExampleGreeter() {
	reply := convo.Greeter(convo.SeedNames())
	c := &convo.Conversation{Count: 3} // the Handler counts the message before calling the reply function
	r, _ := reply(context.Background(), c, &convo.Message{From: "+14158675308", To: "+15005550006"})
	fmt.Println(r)
	r, _ = reply(context.Background(), c, &convo.Message{From: "+19995550000", To: "+15005550006"})
	fmt.Println(r)
	// Output:
	// Rey has messaged +15005550006 3 times
	// Friend has messaged +15005550006 3 times
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

	c := &convo.Conversation{}
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
	c := &convo.Conversation{}
	o, err := convo.StateOf[exampleOrder](c)
	fmt.Printf("%+v %v\n", o, err)
	c.State = []byte(`{"items":["tea"]}`)
	o, err = convo.StateOf[exampleOrder](c)
	fmt.Printf("%+v %v\n", o, err)
	// Output:
	// {Items:[] Done:false} <nil>
	// {Items:[tea] Done:false} <nil>
}

// A reply of two messages, one with a picture, and a redirect; the zero
// Reply answers nothing.
func ExampleReply_TwiML() {
	r := convo.Reply{
		Messages: []convo.Outgoing{
			{Body: "Fish & chips <today>"},
			{Body: "Store front", Media: []string{"https://example.com/shop.jpg"}},
		},
		Redirect: &convo.Redirect{URL: "https://example.com/next"},
	}
	fmt.Println(string(r.TwiML()))
	fmt.Println(string(convo.Reply{}.TwiML()))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Fish &amp; chips &lt;today&gt;</Message><Message><Body>Store front</Body><Media>https://example.com/shop.jpg</Media></Message><Redirect>https://example.com/next</Redirect></Response>
	// <?xml version="1.0" encoding="UTF-8"?><Response/>
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

	stop, _ := convo.ParseMessage(url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {" Stop "}})
	fmt.Println(stop.OptOut)

	_, err = convo.ParseMessage(url.Values{"Body": {"no From, no To"}})
	fmt.Println(errors.Is(err, convo.ErrMalformed))
	// Output:
	// whatsapp Rey look image/jpeg US
	// whatsapp:…5308/whatsapp:…0006
	// STOP
	// true
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
			if m.Body == "RESTART" {
				c.End()
				return convo.Text("Starting over."), nil
			}
			return convo.Textf("message %d", c.Count), nil
		},
	})
	for i, body := range []string{"hi", "hi", "RESTART", "hi"} {
		_, answer := examplePost(h, "", exampleForm(body, fmt.Sprint("SM", i)))
		r, _ := convotest.ParseTwiML([]byte(answer))
		fmt.Println(r)
	}
	// Output:
	// message 1
	// message 2
	// Starting over.
	// message 1
}

// Redacted is the form of a key for logs and errors: never full numbers.
func ExampleKey_Redacted() {
	k := convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"}
	fmt.Println(k.Redacted())
	fmt.Println(k.String())
	// Output:
	// whatsapp:…5308/whatsapp:…0006
	// whatsapp:+14158675308/whatsapp:+15005550006
}

// mapStore is a complete Store: the shape of one over any key-value
// service. It keeps each record with its version and expiry; the Handler
// does the rest. convotest.TestStore(t, …) proves such a store in one call.
type mapStore struct {
	mu sync.Mutex
	m  map[convo.Key]mapRecord
}

type mapRecord struct {
	data      []byte
	version   uint64
	expiresAt time.Time
}

func (s *mapStore) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, version := s.live(key)
	return data, version, nil
}

func (s *mapStore) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, stored := s.live(key); stored != prev {
		return fmt.Errorf("mapstore: %s: %w", key.Redacted(), convo.ErrConflict)
	}
	s.m[key] = mapRecord{data: data, version: next, expiresAt: time.Now().Add(ttl)}
	return nil
}

// live returns the record under key unless it expired; s.mu is held.
func (s *mapStore) live(key convo.Key) ([]byte, uint64) {
	r, ok := s.m[key]
	if !ok || !time.Now().Before(r.expiresAt) {
		return nil, 0
	}
	return r.data, r.version
}

func (s *mapStore) Delete(ctx context.Context, key convo.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// A store of your own needs three methods that move bytes; what it keeps
// is the conversation's record, which any JSON tool reads.
func ExampleStore() {
	store := &mapStore{m: map[convo.Key]mapRecord{}}
	h, _ := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true})
	examplePost(h, "", exampleForm("hi", "SM1"))
	_, answer := examplePost(h, "", exampleForm("hi", "SM2"))
	fmt.Println(answer)
	data, version, _ := store.Load(context.Background(), convo.Key{From: "+14158675308", To: "+15005550006"})
	fmt.Println(strings.HasPrefix(string(data), `{"v":2,"count":2,`), version != 0)
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Friend has messaged +15005550006 2 times</Message></Response>
	// true true
}
