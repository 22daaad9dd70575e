package convotest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
)

// The seed's counter, tested end to end: three messages, a retry of the
// third (answered again, not counted), and four idle hours on the test's
// clock, after which the conversation starts over.
func ExampleTwilio() {
	ctx := context.Background()
	clock := convotest.NewClock(time.Time{})
	store := memstore.New(memstore.Options{})
	defer store.Close()
	const token = "test-auth-token"
	h, err := convo.NewHandler(convo.Config{
		Store:     store,
		Reply:     convo.Greeter(convo.SeedNames()),
		AuthToken: token,
		Now:       clock.Now,
	})
	if err != nil {
		panic(err)
	}

	tw := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: token, Now: clock.Now})
	rey := tw.Phone("+14158675308", "+15005550006")
	for _, text := range []string{"hi", "hi again", "still me"} {
		r, err := rey.Send(ctx, text)
		if err != nil {
			panic(err)
		}
		fmt.Println(r.Status, r)
	}
	r, _ := rey.Retry(ctx)
	fmt.Println("retry:", r)

	clock.Advance(4 * time.Hour)
	r, _ = rey.Send(ctx, "back")
	fmt.Println("4h later:", r)
	// Output:
	// 200 Rey has messaged +15005550006 1 times
	// 200 Rey has messaged +15005550006 2 times
	// 200 Rey has messaged +15005550006 3 times
	// retry: Rey has messaged +15005550006 3 times
	// 4h later: Rey has messaged +15005550006 1 times
}

// A burst: 20 messages of one phone at once. The Handler runs the turns of
// a conversation one at a time, so each count is answered exactly once.
func ExamplePhone_Burst() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, _ := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true})
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{})

	replies, err := tw.Phone("+12349013030", "+15005550006").Burst(context.Background(), 20, nil)
	if err != nil {
		panic(err)
	}
	seen := map[string]bool{}
	for _, r := range replies {
		seen[r.String()] = true
	}
	fmt.Println(len(seen), "different answers")
	fmt.Println(seen["Friend has messaged +15005550006 20 times"])
	// Output:
	// 20 different answers
	// true
}

// A WhatsApp phone sends a picture; the reply function sees the media and
// the profile name, and answers with media of its own.
func ExamplePhone_SendMessage() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, _ := convo.NewHandler(convo.Config{
		Store:                      store,
		InsecureSkipSignatureCheck: true,
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			return convo.Reply{Messages: []convo.Outgoing{{
				Body:  fmt.Sprintf("Thanks %s for the %s (%s)", m.ProfileName, m.Media[0].ContentType, m.Channel),
				Media: []string{"https://example.com/thanks.gif"},
			}}}, nil
		},
	})
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{})
	p := tw.Phone("whatsapp:+14158675308", "whatsapp:+14155238886")
	p.ProfileName = "Rey"

	r, err := p.SendMessage(context.Background(), convotest.Message{
		Media: []convo.Media{{URL: "https://example.com/cat.jpg"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Messages[0].Body)
	fmt.Println(r.Messages[0].Media)
	fmt.Println(r.Form.Get("WaId"), r.Form.Get("MessageType"))
	// Output:
	// Thanks Rey for the image/jpeg (whatsapp)
	// [https://example.com/thanks.gif]
	// 14158675308 image
}

// A server over HTTP: any URL works, here an httptest.Server.
func ExampleNewTwilioURL() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, _ := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), AuthToken: "secret"})
	srv := httptest.NewServer(h)
	defer srv.Close()

	tw, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{AuthToken: "secret"})
	if err != nil {
		panic(err)
	}
	r, err := tw.Phone("+12348134522", "+15005550006").Send(context.Background(), "hello")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Status, r.Texts())
	// Output:
	// 200 [Friend has messaged +15005550006 1 times]
}

// The signature Twilio sends, for a server's own tests or a curl command.
func ExampleSignature() {
	form := url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}}
	fmt.Println(convotest.Signature("12345", "https://example.com/sms", form))
	// Output:
	// b8MEZr1dbGe8+hqir3TeMHLjp4c=
}
