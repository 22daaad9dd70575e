package convo

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MaxMedia is the most media items Twilio attaches to one message.
const MaxMedia = 10

// ErrMalformed is wrapped by [ParseMessage] errors: the webhook form is not
// one Twilio would send. The Handler answers it with 400 Bad Request.
var ErrMalformed = errors.New("convo: malformed webhook")

// Media is one media item of an inbound MMS or WhatsApp message.
type Media struct {
	URL         string // MediaUrlN: where Twilio serves the file
	ContentType string // MediaContentTypeN, such as "image/jpeg"
}

// Message is a typed view of one inbound messaging webhook. The common
// parameters have fields; every parameter Twilio sent, those included,
// stays in Params.
type Message struct {
	MessageSID          string // MessageSid (or SmsMessageSid/SmsSid when it is absent)
	AccountSID          string
	MessagingServiceSID string
	From                string // the sender's address, with its channel prefix: "+14158675308", "whatsapp:+14158675308"
	To                  string // your number, with its channel prefix
	Body                string // the text, up to 1600 characters
	Media               []Media
	NumSegments         int    // SMS segments the text took; 0 when not sent
	Channel             string // "sms" (no prefix), or the address prefix: "whatsapp", "messenger", "rcs", …
	ProfileName         string // WhatsApp: the sender's profile name
	WaID                string // WhatsApp: the sender's WhatsApp id

	// Params holds every parameter of the webhook form, as sent.
	Params url.Values
}

// Key returns the conversation key of the message: its From/To pair.
func (m *Message) Key() Key { return Key{From: m.From, To: m.To} }

// ParseMessage reads a webhook form. It fails, with an error wrapping
// [ErrMalformed], when From or To is missing or empty, when NumMedia or
// NumSegments is not a small non-negative number, or when a media URL that
// NumMedia announces is missing. Parameters it does not know are kept in
// Params.
func ParseMessage(form url.Values) (*Message, error) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	m := &Message{
		MessageSID:          get("MessageSid"),
		AccountSID:          get("AccountSid"),
		MessagingServiceSID: get("MessagingServiceSid"),
		From:                get("From"),
		To:                  get("To"),
		Body:                get("Body"),
		ProfileName:         get("ProfileName"),
		WaID:                get("WaId"),
		Params:              form,
	}
	if m.MessageSID == "" {
		m.MessageSID = get("SmsMessageSid")
	}
	if m.MessageSID == "" {
		m.MessageSID = get("SmsSid")
	}
	if m.From == "" {
		return nil, fmt.Errorf("%w: missing From", ErrMalformed)
	}
	if m.To == "" {
		return nil, fmt.Errorf("%w: missing To", ErrMalformed)
	}
	m.Channel = channelOf(m.From)

	var err error
	if m.NumSegments, err = smallCount("NumSegments", get("NumSegments"), 1<<10); err != nil {
		return nil, err
	}
	n, err := smallCount("NumMedia", get("NumMedia"), MaxMedia)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		m.Media = make([]Media, n)
		for i := range n {
			idx := strconv.Itoa(i)
			m.Media[i] = Media{URL: get("MediaUrl" + idx), ContentType: get("MediaContentType" + idx)}
			if m.Media[i].URL == "" {
				return nil, fmt.Errorf("%w: NumMedia is %d but MediaUrl%d is missing", ErrMalformed, n, i)
			}
		}
	}
	return m, nil
}

// smallCount parses an optional count parameter in [0, max].
func smallCount(name, s string, max int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%w: %s is %q, want a number from 0 to %d", ErrMalformed, name, truncate(s, 20), max)
	}
	return n, nil
}

// channelOf returns the channel named by an address's prefix, "sms" when it
// has none. Phone numbers ("+1…") and short codes never contain a colon.
func channelOf(addr string) string {
	if i := strings.IndexByte(addr, ':'); i > 0 {
		return addr[:i]
	}
	return "sms"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
