package convo_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

// The package overview's program, driven with httptest instead of Twilio.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		InsecureSkipSignatureCheck: true, // tests only; give AuthToken in production
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if c.Count == 1 {
				return convo.Text("Welcome! Text me again."), nil
			}
			return convo.Textf("Message %d: you said %q", c.Count, m.Body), nil
		},
	})
	if err != nil {
		panic(err)
	}
	for i, body := range []string{"hi", "how are you?"} {
		form := url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {body}, "MessageSid": {fmt.Sprint("SM", i)}}
		req := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Body.String())
	}
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Welcome! Text me again.</Message></Response>
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Message 2: you said "how are you?"</Message></Response>
}
