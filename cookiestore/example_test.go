package cookiestore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
)

// A webhook whose conversations live in Twilio's cookie, driven here with
// httptest, carrying the cookie from each answer to the next message as
// Twilio does.
func Example() {
	// In production: keys, err := cookiestore.ParseKeys(os.Getenv("CONVO_COOKIE_KEYS"))
	key, err := cookiestore.GenerateKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	store, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{key}})
	if err != nil {
		log.Fatal(err)
	}
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      convo.Greeter(convo.SeedNames()),
		InsecureSkipSignatureCheck: true, // tests only; give AuthToken in production
	})
	if err != nil {
		log.Fatal(err)
	}
	var cookie string
	for i := range 3 {
		form := url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {fmt.Sprint("SM", i)}}
		req := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cookie, _, _ = strings.Cut(rec.Header().Get("Set-Cookie"), ";")
		fmt.Println(rec.Body.String())
	}
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 1 times</Message></Response>
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 2 times</Message></Response>
	// <?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 3 times</Message></Response>
}

// Rotating keys: the new pair goes first, the old one stays until every
// conversation has been answered since (four hours at most).
func ExampleParseKeys() {
	// CONVO_COOKIE_KEYS="NEWHASH:NEWBLOCK,OLDHASH:OLDBLOCK", each key base64.
	newPair, _ := cookiestore.GenerateKeyPair()
	oldPair, _ := cookiestore.GenerateKeyPair()
	env := cookiestore.FormatKeys([]cookiestore.KeyPair{newPair, oldPair})

	keys, err := cookiestore.ParseKeys(env)
	if err != nil {
		log.Fatal(err)
	}
	store, err := cookiestore.New(cookiestore.Options{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(keys), "pairs; writes with the first, reads with both:", store != nil)
	// Output: 2 pairs; writes with the first, reads with both: true
}
