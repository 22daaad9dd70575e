package convo

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Limits of a webhook form that the Handler refuses past, with 400.
const (
	// MaxAddressLen bounds From and To, in bytes. Twilio's addresses are
	// far shorter: a phone number takes 16 at most, a WhatsApp or
	// Messenger address a few dozen.
	MaxAddressLen = 256

	// MaxMedia is the most media items Twilio attaches to one message.
	MaxMedia = 10
)

// ErrMalformed is wrapped by [ParseMessage] errors: the webhook form is not
// one Twilio would send. The Handler answers it with 400 Bad Request.
var ErrMalformed = errors.New("convo: malformed webhook")

// Media is one media item of an inbound MMS or WhatsApp message.
type Media struct {
	URL         string // MediaUrlN: where Twilio serves the file
	ContentType string // MediaContentTypeN, such as "image/jpeg"
}

// OptOut names the opt-out keyword a message is, as Twilio handles it
// before your webhook sees it: after Stop, Twilio blocks messages to the
// phone and sends its own confirmation; after Start it lets them through
// again; to Help it answers with its own help text.
type OptOut string

// The opt-out kinds, as Twilio's OptOutType parameter names them.
const (
	OptOutStop  OptOut = "STOP"  // STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT
	OptOutStart OptOut = "START" // START, YES, UNSTOP
	OptOutHelp  OptOut = "HELP"  // HELP, INFO
)

// optOutWords are Twilio's default opt-out keywords: a message that is one
// of them, in any case, with space around it.
var optOutWords = map[string]OptOut{
	"STOP": OptOutStop, "STOPALL": OptOutStop, "UNSUBSCRIBE": OptOutStop,
	"CANCEL": OptOutStop, "END": OptOutStop, "QUIT": OptOutStop,
	"START": OptOutStart, "YES": OptOutStart, "UNSTOP": OptOutStart,
	"HELP": OptOutHelp, "INFO": OptOutHelp,
}

// Message is a typed view of one inbound messaging webhook. The common
// parameters have fields; every parameter Twilio sent stays in Params.
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

	// OptOut is the opt-out keyword the message is: Twilio's OptOutType
	// parameter (sent with Advanced Opt-Out), or else, on SMS, the Body
	// when it is one of Twilio's default keywords. "" for other messages.
	OptOut OptOut

	// Params holds every parameter of the webhook form, as sent.
	Params url.Values
}

// Key returns the conversation key of the message: its From/To pair.
func (m *Message) Key() Key { return Key{From: m.From, To: m.To} }

// ParseMessage reads an inbound message's webhook form. It fails, with an
// error wrapping [ErrMalformed], when From or To is missing, empty or
// longer than MaxAddressLen, when NumMedia or NumSegments is not a small
// non-negative number, or when a media URL that NumMedia announces is
// missing.
func ParseMessage(form url.Values) (*Message, error) {
	m := &Message{
		MessageSID:          first(form, "MessageSid", "SmsMessageSid", "SmsSid"),
		AccountSID:          form.Get("AccountSid"),
		MessagingServiceSID: form.Get("MessagingServiceSid"),
		From:                form.Get("From"),
		To:                  form.Get("To"),
		Body:                form.Get("Body"),
		ProfileName:         form.Get("ProfileName"),
		WaID:                form.Get("WaId"),
		Params:              form,
	}
	if bad(m.From) || bad(m.To) {
		return nil, fmt.Errorf("%w: From or To is missing or longer than %d bytes", ErrMalformed, MaxAddressLen)
	}
	m.Channel = "sms"
	if ch, _, ok := strings.Cut(m.From, ":"); ok && ch != "" {
		m.Channel = ch
	}
	switch t := OptOut(strings.ToUpper(form.Get("OptOutType"))); {
	case t == OptOutStop || t == OptOutStart || t == OptOutHelp:
		m.OptOut = t
	case m.Channel == "sms":
		m.OptOut = optOutWords[strings.ToUpper(strings.TrimSpace(m.Body))]
	}
	var err error
	if m.NumSegments, err = smallCount(form, "NumSegments", 1<<10); err != nil {
		return nil, err
	}
	n, err := smallCount(form, "NumMedia", MaxMedia)
	if err != nil {
		return nil, err
	}
	for i := range n {
		media := Media{URL: form.Get("MediaUrl" + strconv.Itoa(i)), ContentType: form.Get("MediaContentType" + strconv.Itoa(i))}
		if media.URL == "" {
			return nil, fmt.Errorf("%w: NumMedia is %d but MediaUrl%d is missing", ErrMalformed, n, i)
		}
		m.Media = append(m.Media, media)
	}
	return m, nil
}

func bad(addr string) bool { return addr == "" || len(addr) > MaxAddressLen }

// first returns the first non-empty value of the named parameters.
func first(form url.Values, names ...string) string {
	for _, name := range names {
		if v := form.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// smallCount parses an optional count parameter in [0, max].
func smallCount(form url.Values, name string, max int) (int, error) {
	s := form.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%w: %s is not a number from 0 to %d", ErrMalformed, name, max)
	}
	return n, nil
}

// Status is a status callback: Twilio telling what became of a message
// sent from your number, by REST or as a reply. Twilio posts it to the
// message's statusCallback URL, which may be the Handler's own.
type Status struct {
	MessageSID string // the outbound message
	Status     string // MessageStatus: "queued", "sent", "delivered", "undelivered", "failed", "read" (WhatsApp), …
	ErrorCode  string // Twilio's error code when the message failed, such as "30003"

	// Key is the conversation the message belongs to: the callback's From
	// and To, which are the outbound message's, reversed.
	Key Key

	Params url.Values // every parameter of the callback, as sent
}

// parseStatus returns the status callback form is, if it is one: a form
// without Body whose MessageStatus (or SmsStatus) is not "received", the
// status of an inbound message.
func parseStatus(form url.Values) (*Status, bool) {
	status := first(form, "MessageStatus", "SmsStatus")
	if _, hasBody := form["Body"]; hasBody || status == "" || status == "received" {
		return nil, false
	}
	return &Status{
		MessageSID: first(form, "MessageSid", "SmsSid"),
		Status:     status,
		ErrorCode:  form.Get("ErrorCode"),
		Key:        Key{From: form.Get("To"), To: form.Get("From")},
		Params:     form,
	}, true
}
