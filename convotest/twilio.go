package convotest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/smsconvo/convo"
)

// DefaultWebhookURL is the URL a [Twilio] made by [NewTwilio] signs and
// sends its in-process requests to, unless TwilioOptions.URL says otherwise.
const DefaultWebhookURL = "https://example.com/sms"

// MaxAnswerBytes is the most of an answer's body a [Twilio] reads; a longer
// answer is an error. Twilio itself refuses TwiML documents over 64 KB.
const MaxAnswerBytes = 1 << 20

// TwilioOptions configure a [Twilio]. The zero value is ready to use: no
// signature, a random AccountSid, the system clock.
type TwilioOptions struct {
	// AuthToken, when set, signs every request with X-Twilio-Signature as
	// Twilio does (see [Signature]). Empty sends no signature.
	AuthToken string

	// SharedKeySecret, when set, signs every request instead with a
	// Webhooks Rule's SharedKey, as Twilio does (see [SharedKeySignature]),
	// and sends X-Twilio-Webhooks-Signature-Settings naming
	// SharedKeyAlgorithm: "HMAC_SHA256" (when empty) or "HMAC_SHA1".
	SharedKeySecret, SharedKeyAlgorithm string

	// URL is the webhook URL Twilio is configured with: the URL it signs.
	// For NewTwilio it is also the URL of every in-process request (its
	// scheme, host, path and query; https gives the request a TLS state),
	// and defaults to DefaultWebhookURL. For NewTwilioURL it defaults to
	// the target URL; set it when the server is reached at another address
	// than the one Twilio is configured with (a tunnel or a proxy; see
	// convo.Config.PublicURL).
	URL string

	// AccountSID is sent as AccountSid; empty means a random, realistic
	// one ("AC" and 32 hex digits), fixed for the Twilio.
	AccountSID string

	// MessagingServiceSID, when set, is sent as MessagingServiceSid.
	MessagingServiceSID string

	// AdvancedOptOut makes a message that is one of Twilio's default
	// opt-out keywords carry OptOutType (STOP, START or HELP), as Twilio
	// sends it with Advanced Opt-Out; without it, the keyword is only the
	// Body, as with Twilio's default opt-out handling.
	AdvancedOptOut bool

	// Now is the clock of the cookie jar; nil means time.Now. Pass the
	// Now method of a [Clock], the same clock given to the Handler and the
	// store, to make hours pass at once.
	Now func() time.Time

	// Client sends the requests of NewTwilioURL. Nil means a client that
	// gives up after 15 seconds, as Twilio does, and does not follow
	// redirects. NewTwilio does not use it.
	Client *http.Client
}

// Twilio is a fake of Twilio's messaging webhooks: it sends the requests
// Twilio would send for messages from phones, either to an http.Handler,
// in process and without a network ([NewTwilio]), or over HTTP to a URL
// ([NewTwilioURL]).
//
// Like Twilio, it keeps one cookie jar with Twilio's cookie rules (see
// [CookieJar]), one set of cookies per From/To pair, so phones of different
// pairs never see each other's cookies. A Twilio and its phones are safe
// for concurrent use.
type Twilio struct {
	handler    http.Handler
	target     string // where requests go
	signURL    string // the URL signed
	token      string
	sharedKey  string
	algorithm  string
	accountSID string
	serviceSID string
	optOutType bool
	client     *http.Client
	jar        *CookieJar
}

// NewTwilio returns a Twilio that serves every message to h in process,
// through an httptest.ResponseRecorder, with no network. It panics when
// opts.URL is set but is not an absolute http or https URL, as
// httptest.NewRequest does for a bad target.
func NewTwilio(h http.Handler, opts TwilioOptions) *Twilio {
	if h == nil {
		panic("convotest: NewTwilio with a nil handler")
	}
	if opts.URL == "" {
		opts.URL = DefaultWebhookURL
	}
	if err := checkURL(opts.URL); err != nil {
		panic("convotest: NewTwilio: " + err.Error())
	}
	tw := newTwilio(opts)
	tw.handler = h
	tw.target = opts.URL
	return tw
}

// NewTwilioURL returns a Twilio that POSTs every message to webhookURL over
// HTTP, with opts.Client; the server may run anywhere (httptest.NewServer,
// a local process, a deployed service). It fails when webhookURL or
// opts.URL is not an absolute http or https URL.
func NewTwilioURL(webhookURL string, opts TwilioOptions) (*Twilio, error) {
	if err := checkURL(webhookURL); err != nil {
		return nil, fmt.Errorf("convotest: webhook URL: %w", err)
	}
	if opts.URL == "" {
		opts.URL = webhookURL
	} else if err := checkURL(opts.URL); err != nil {
		return nil, fmt.Errorf("convotest: TwilioOptions.URL: %w", err)
	}
	tw := newTwilio(opts)
	tw.target = webhookURL
	tw.client = opts.Client
	if tw.client == nil {
		tw.client = &http.Client{
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return tw, nil
}

func newTwilio(opts TwilioOptions) *Twilio {
	sid := opts.AccountSID
	if sid == "" {
		sid = NewSID("AC")
	}
	return &Twilio{
		signURL:    opts.URL,
		token:      opts.AuthToken,
		sharedKey:  opts.SharedKeySecret,
		algorithm:  cmp.Or(opts.SharedKeyAlgorithm, "HMAC_SHA256"),
		accountSID: sid,
		serviceSID: opts.MessagingServiceSID,
		optOutType: opts.AdvancedOptOut,
		jar:        NewCookieJar(opts.Now),
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// URL returns the webhook URL the Twilio signs.
func (tw *Twilio) URL() string { return tw.signURL }

// AccountSID returns the AccountSid the Twilio sends.
func (tw *Twilio) AccountSID() string { return tw.accountSID }

// Jar returns the Twilio's cookie jar, to inspect or seed the cookies of a
// From/To pair.
func (tw *Twilio) Jar() *CookieJar { return tw.jar }

// Phone returns a phone texting from the address from to the address to,
// one conversation as Twilio scopes it. Addresses keep their channel
// prefix: a from address starting with "whatsapp:" makes a WhatsApp phone,
// which also sends ProfileName and WaId (use "whatsapp:" on to as well, as
// Twilio does). Two Phone values of the same pair share the pair's cookies.
func (tw *Twilio) Phone(from, to string) *Phone {
	p := &Phone{tw: tw, key: convo.Key{From: from, To: to}}
	if channelOf(from) == "whatsapp" {
		p.ProfileName = DefaultProfileName
	}
	return p
}

// Phones returns n phones with distinct, made-up US numbers (+1415200…),
// all texting to: many users of one service.
func (tw *Twilio) Phones(n int, to string) []*Phone {
	phones := make([]*Phone, n)
	for i := range phones {
		phones[i] = tw.Phone(fmt.Sprintf("+1415%03d%04d", 200+i/10000, i%10000), to)
	}
	return phones
}

// NewSID returns a random, realistic Twilio SID: prefix ("SM" for a
// message, "AC" for an account, "MG" for a messaging service) and 32
// lower-case hex digits.
func NewSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newIdempotencyToken returns a fresh value for I-Twilio-Idempotency-Token.
func newIdempotencyToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
