package convotest_test

import (
	"context"
	"log/slog"
	"net/url"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
)

// A whole message through the kit and the Handler on memstore, in process:
// what one step of an end-to-end test costs.
func BenchmarkPhoneSend(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) {
			store := memstore.New(memstore.Options{})
			defer store.Close()
			token := ""
			if signed {
				token = "tok"
			}
			h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), AuthToken: token, InsecureSkipSignatureCheck: !signed, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			p := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: token}).Phone("+14158675308", "+15005550006")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Send(ctx, "hello"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignature(b *testing.B) {
	form := url.Values{
		"MessageSid": {convotest.NewSID("SM")}, "SmsMessageSid": {convotest.NewSID("SM")}, "SmsSid": {convotest.NewSID("SM")},
		"AccountSid": {convotest.NewSID("AC")}, "From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hello"},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	b.ReportAllocs()
	for b.Loop() {
		convotest.Signature("tok", "https://example.com/sms", form)
	}
}

func BenchmarkParseTwiML(b *testing.B) {
	doc := convo.Reply{Messages: []convo.Outgoing{{Body: "Rey has messaged +15005550006 3 times"}}}.TwiML()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := convotest.ParseTwiML(doc); err != nil {
			b.Fatal(err)
		}
	}
}
