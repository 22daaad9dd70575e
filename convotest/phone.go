package convotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/smsconvo/convo"
)

// DefaultProfileName is the ProfileName a WhatsApp [Phone] sends unless its
// ProfileName field is changed.
const DefaultProfileName = "Test User"

// ErrMessageTooLong is returned by a [Phone], with the Reply, when an
// answer holds a <Message> longer than Twilio sends (convo.MaxMessageLen
// characters): Twilio refuses it with error 21617 and the phone gets nothing.
var ErrMessageTooLong = errors.New("convotest: a <Message> is over 1600 characters (Twilio error 21617)")

// ErrNoMessage is returned by [Phone.Retry] when the phone has sent nothing
// yet.
var ErrNoMessage = errors.New("convotest: the phone has sent no message to retry")

// Phone is one From/To pair of a [Twilio]: a person texting your number.
// Each message it sends is the webhook request Twilio would make for it,
// with a fresh MessageSid and idempotency token, the pair's cookies, and a
// signature when the Twilio has an auth token. Its methods are safe for
// concurrent use; set its fields before the first message.
type Phone struct {
	// ProfileName is sent as ProfileName by a WhatsApp phone; it starts as
	// DefaultProfileName. Empty sends none. SMS phones ignore it.
	ProfileName string

	// Params are added to the parameters of every message, replacing
	// those of the same name: the geographic FromCity, FromState, FromZip,
	// FromCountry (and To…) that Twilio adds for some numbers, or anything
	// a test wants to vary.
	Params url.Values

	tw  *Twilio
	key convo.Key

	mu   sync.Mutex
	last *request // the latest message sent, for Retry
}

// Message is what a [Phone] sends: a text, media, or both.
type Message struct {
	// Body is the text, sent as is. Twilio caps it at 1600 characters;
	// the phone does not, so tests can send what Twilio would not.
	Body string

	// Media are up to convo.MaxMedia attachments, sent as NumMedia,
	// MediaUrlN and MediaContentTypeN. An empty ContentType is guessed
	// from the URL's extension ("image/jpeg" for .jpg), else
	// "application/octet-stream".
	Media []convo.Media

	// Params are added to this message's parameters, replacing those of
	// the same name (and the phone's Params): WhatsApp's ButtonText,
	// ButtonPayload, Latitude and Longitude, or a MessageSid of your own.
	Params url.Values
}

// Reply is the answer to one message: its HTTP status, header and body
// and, for a 2xx answer, the TwiML parsed. The embedded convo.Reply holds
// the <Message> verbs (text, media and attributes) and the <Redirect>,
// which the fake does not follow; its String method joins the texts with
// "\n".
type Reply struct {
	Status int
	Header http.Header
	Body   []byte // the answer's body, as sent

	convo.Reply

	// Form holds the parameters of the message answered (MessageSid,
	// From, Body, …), as they were sent.
	Form url.Values

	req *request // the request answered, for Resend
}

// Texts returns the text of each <Message> of the reply, in order.
func (r *Reply) Texts() []string {
	texts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		texts[i] = m.Body
	}
	return texts
}

// request is one webhook request: its form and idempotency token, kept so
// that a retry sends it again unchanged.
type request struct {
	form  url.Values
	token string
}

// Key returns the phone's From/To pair: its conversation key.
func (p *Phone) Key() convo.Key { return p.key }

// Cookies returns the unexpired cookies Twilio holds for the phone's pair
// and would send with its next message.
func (p *Phone) Cookies() []*http.Cookie { return p.tw.jar.Cookies(p.key) }

// Send texts body. It is SendMessage with a text only.
func (p *Phone) Send(ctx context.Context, body string) (*Reply, error) {
	return p.SendMessage(ctx, Message{Body: body})
}

// SendMessage sends m as a new message, with a fresh MessageSid and
// idempotency token, and returns the answer. An answer with any HTTP status
// is a Reply, not an error (check Reply.Status); the error is for a message
// that could not be sent or answered (a network error, a context ended) and
// for a 2xx answer whose body is not valid TwiML (wrapping ErrInvalidTwiML,
// returned along with the Reply). The answer's Set-Cookie lines update the
// pair's cookies in any case.
func (p *Phone) SendMessage(ctx context.Context, m Message) (*Reply, error) {
	form, err := p.form(m)
	if err != nil {
		return nil, err
	}
	req := &request{form: form, token: newIdempotencyToken()}
	p.mu.Lock()
	p.last = req
	p.mu.Unlock()
	return p.tw.do(ctx, p.key, req)
}

// Retry sends the phone's latest message again as Twilio retries it: the
// same parameters (MessageSid included), the same I-Twilio-Idempotency-Token
// and signature, and the cookies the pair holds now. It returns ErrNoMessage
// when the phone has sent nothing.
func (p *Phone) Retry(ctx context.Context) (*Reply, error) {
	p.mu.Lock()
	req := p.last
	p.mu.Unlock()
	if req == nil {
		return nil, ErrNoMessage
	}
	return p.tw.do(ctx, p.key, req)
}

// Resend sends the message r answers again, as Twilio retries it: the same
// parameters, idempotency token and signature, with the cookies the pair
// holds now. Use it to retry a message other than the latest, such as one
// of a burst. It fails when r is not a reply to a message of this phone.
func (p *Phone) Resend(ctx context.Context, r *Reply) (*Reply, error) {
	if r == nil || r.req == nil || r.Form.Get("From") != p.key.From || r.Form.Get("To") != p.key.To {
		return nil, errors.New("convotest: Resend of a reply to another phone's message")
	}
	return p.tw.do(ctx, p.key, r.req)
}

// Resend sends the message r answers again, as [Phone.Resend] does, but
// through tw: to its handler or URL, with its cookies for the pair. With
// two Twilios on two servers of a fleet, it is Twilio's retry reaching
// another server than the first attempt did.
func (tw *Twilio) Resend(ctx context.Context, r *Reply) (*Reply, error) {
	if r == nil || r.req == nil {
		return nil, errors.New("convotest: Resend of a reply to no message")
	}
	return tw.do(ctx, convo.Key{From: r.Form.Get("From"), To: r.Form.Get("To")}, r.req)
}

// Burst sends n messages at once, each from its own goroutine, all released
// together, as when a user's messages arrive while the previous ones are
// still being answered; each carries the cookies held when it leaves.
// text(i) gives the body of message i (nil: "message 1", "message 2", …).
// It returns all n replies, indexed as sent, and the errors joined; a
// message that failed has a nil reply, unless its answer was invalid TwiML.
// Which message of a burst Retry then resends is up to the scheduler: use
// Resend to retry a given one.
func (p *Phone) Burst(ctx context.Context, n int, text func(i int) string) ([]*Reply, error) {
	if text == nil {
		text = func(i int) string { return "message " + strconv.Itoa(i+1) }
	}
	replies := make([]*Reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i], errs[i] = p.Send(ctx, text(i))
			if errs[i] != nil {
				errs[i] = fmt.Errorf("burst message %d: %w", i, errs[i])
			}
		}()
	}
	close(start)
	wg.Wait()
	return replies, errors.Join(errs...)
}

// form builds the webhook parameters of m.
func (p *Phone) form(m Message) (url.Values, error) {
	if len(m.Media) > convo.MaxMedia {
		return nil, fmt.Errorf("convotest: %d media in one message; Twilio sends at most %d", len(m.Media), convo.MaxMedia)
	}
	tw := p.tw
	whatsapp := channelOf(p.key.From) == "whatsapp"
	sid := NewSID("SM")
	f := make(url.Values, 16+2*len(m.Media))
	set := func(k, v string) { f[k] = []string{v} }
	set("MessageSid", sid)
	set("SmsMessageSid", sid)
	set("SmsSid", sid)
	set("AccountSid", tw.accountSID)
	if tw.serviceSID != "" {
		set("MessagingServiceSid", tw.serviceSID)
	}
	set("From", p.key.From)
	set("To", p.key.To)
	set("Body", m.Body)
	set("NumMedia", strconv.Itoa(len(m.Media)))
	for i, md := range m.Media {
		if md.URL == "" {
			return nil, fmt.Errorf("convotest: media %d has no URL", i)
		}
		ct := md.ContentType
		if ct == "" {
			ct = guessContentType(md.URL)
		}
		set("MediaUrl"+strconv.Itoa(i), md.URL)
		set("MediaContentType"+strconv.Itoa(i), ct)
	}
	segments := 1
	if !whatsapp && len(m.Media) == 0 {
		segments = Segments(m.Body)
	}
	set("NumSegments", strconv.Itoa(segments))
	set("SmsStatus", "received")
	if kind := optOutType(m.Body); tw.optOutType && kind != "" && !whatsapp {
		set("OptOutType", kind)
	}
	set("ApiVersion", "2010-04-01")
	if whatsapp {
		if p.ProfileName != "" {
			set("ProfileName", p.ProfileName)
		}
		set("WaId", strings.TrimPrefix(strings.TrimPrefix(p.key.From, "whatsapp:"), "+"))
		set("MessageType", messageType(f, len(m.Media)))
		set("ReferralNumMedia", "0")
	}
	for k, v := range p.Params {
		f[k] = slices.Clone(v)
	}
	for k, v := range m.Params {
		f[k] = slices.Clone(v)
	}
	return f, nil
}

// StatusCallback is what Twilio posts to a message's status callback URL
// about a message sent to a phone.
type StatusCallback struct {
	MessageSID string // the outbound message; empty means a new SID
	Status     string // "queued", "sent", "delivered", "undelivered", "failed", "read"
	ErrorCode  string // Twilio's error code; empty means 30003 for "undelivered" and "failed"
}

// SendStatus posts the status callback Twilio would send about a message
// from the phone's To number to the phone: From and To reversed from the
// phone's messages, MessageStatus and SmsStatus, no Body.
func (p *Phone) SendStatus(ctx context.Context, s StatusCallback) (*Reply, error) {
	if s.MessageSID == "" {
		s.MessageSID = NewSID("SM")
	}
	if s.ErrorCode == "" && (s.Status == "undelivered" || s.Status == "failed") {
		s.ErrorCode = "30003"
	}
	f := url.Values{
		"MessageSid": {s.MessageSID}, "SmsSid": {s.MessageSID}, "AccountSid": {p.tw.accountSID},
		"From": {p.key.To}, "To": {p.key.From}, "MessageStatus": {s.Status}, "SmsStatus": {s.Status},
		"ApiVersion": {"2010-04-01"},
	}
	if s.ErrorCode != "" {
		f.Set("ErrorCode", s.ErrorCode)
	}
	return p.tw.do(ctx, p.key, &request{form: f, token: newIdempotencyToken()})
}

// optOutType returns the OptOutType Twilio sends for body, "" for none.
func optOutType(body string) string {
	switch strings.ToUpper(strings.TrimSpace(body)) {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT":
		return "STOP"
	case "START", "YES", "UNSTOP":
		return "START"
	case "HELP", "INFO":
		return "HELP"
	}
	return ""
}

// do sends one webhook request for key and reads the answer.
func (tw *Twilio) do(ctx context.Context, key convo.Key, r *request) (*Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("convotest: sending message: %w", err)
	}
	body := r.form.Encode()
	var req *http.Request
	if tw.handler != nil {
		req = httptest.NewRequestWithContext(ctx, http.MethodPost, tw.target, strings.NewReader(body))
	} else {
		var err error
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, tw.target, strings.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("convotest: sending message: %w", err)
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("I-Twilio-Idempotency-Token", r.token)
	switch {
	case tw.sharedKey != "":
		req.Header.Set("X-Twilio-Signature", SharedKeySignature(tw.sharedKey, tw.algorithm, tw.signURL, r.form))
		req.Header.Set("X-Twilio-Webhooks-Signature-Settings", "key=KS00000000000000000000000000000000,algorithm="+tw.algorithm)
	case tw.token != "":
		req.Header.Set("X-Twilio-Signature", Signature(tw.token, tw.signURL, r.form))
	}
	tw.jar.AddCookies(key, req)

	var res *http.Response
	if tw.handler != nil {
		rec := httptest.NewRecorder()
		tw.handler.ServeHTTP(rec, req)
		res = rec.Result()
	} else {
		var err error
		res, err = tw.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("convotest: sending message: %w", err)
		}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("convotest: reading the answer: %w", err)
	}
	if len(b) > MaxAnswerBytes {
		return nil, fmt.Errorf("convotest: answer longer than %d bytes", MaxAnswerBytes)
	}
	tw.jar.Update(key, res.Header)
	reply := &Reply{Status: res.StatusCode, Header: res.Header, Body: b, Form: r.form, req: r}
	return reply, reply.parse()
}

// parse reads the TwiML of a 2xx answer with a body, as Twilio would.
func (r *Reply) parse() error {
	if r.Status < 200 || r.Status >= 300 || len(bytes.TrimSpace(r.Body)) == 0 {
		return nil
	}
	var err error
	if r.Reply, err = ParseTwiML(r.Body); err != nil {
		return err
	}
	for i, m := range r.Messages {
		if n := len(utf16.Encode([]rune(m.Body))); n > convo.MaxMessageLen {
			return fmt.Errorf("%w: <Message> %d has %d characters", ErrMessageTooLong, i+1, n)
		}
	}
	return nil
}

// Segments returns the number of SMS segments Twilio counts for body
// (NumSegments): a text of GSM-7 characters takes one segment up to 160
// characters (those of the extension table counting twice) and 153 per
// segment beyond; any other text is sent as UCS-2, 70 UTF-16 units in one
// segment and 67 per segment beyond. An empty body takes one.
func Segments(body string) int {
	units, gsm := 0, true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			units++
		case strings.ContainsRune(gsm7Extension, r):
			units += 2
		default:
			gsm = false
		}
		if !gsm {
			break
		}
	}
	single, multi := 160, 153
	if !gsm {
		units = len(utf16.Encode([]rune(body)))
		single, multi = 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}

const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "\f^{}\\[~]|€"
)

var contentTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".mp4": "video/mp4", ".3gp": "video/3gpp", ".mp3": "audio/mpeg",
	".ogg": "audio/ogg", ".amr": "audio/amr", ".pdf": "application/pdf", ".vcf": "text/vcard",
	".txt": "text/plain",
}

func guessContentType(rawURL string) string {
	p := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		p = u.Path
	}
	ext := strings.ToLower(path.Ext(p))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct, _, err := mime.ParseMediaType(mime.TypeByExtension(ext)); err == nil {
		return ct
	}
	return "application/octet-stream"
}

// messageType returns WhatsApp's MessageType for a message: "text", or the
// kind of its first media item.
func messageType(f url.Values, numMedia int) string {
	if numMedia == 0 {
		return "text"
	}
	kind, _, _ := strings.Cut(f.Get("MediaContentType0"), "/")
	switch kind {
	case "image", "video", "audio":
		return kind
	}
	return "document"
}

// channelOf returns the channel of an address: its prefix, or "sms".
func channelOf(addr string) string {
	if i := strings.IndexByte(addr, ':'); i > 0 {
		return addr[:i]
	}
	return "sms"
}
