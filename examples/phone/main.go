// Command phone is a phone in your terminal: it texts a convo webhook (or
// any Twilio messaging webhook) the way Twilio does, so you can try a bot
// before you own a Twilio number.
//
//	go run ./examples/phone -url http://127.0.0.1:8080/sms -from +14158675308
//
// Each line you type is one message; the replies are printed as the phone
// would show them. Like Twilio, the phone keeps the cookie the webhook sets
// for its From/To pair (four idle hours at most), sends a fresh MessageSid
// with each message and, when TWILIO_AUTH_TOKEN is set, signs every request
// with X-Twilio-Signature.
//
// Flags:
//
//	-url URL         the webhook (default http://127.0.0.1:8080/sms)
//	-from ADDR       the phone's number (default +14158675308)
//	-to ADDR         your Twilio number (default +15005550006)
//	-media URL       a media URL to attach to each message; repeat it or
//	                 separate URLs with commas
//	-whatsapp        text over WhatsApp: prefix both numbers with "whatsapp:"
//	-name NAME       the WhatsApp profile name
//	-public-url URL  the URL to sign, when the server is configured with
//	                 another one than -url (see convo.Config.PublicURL)
//	-v               also print each answer's status and TwiML
//
// Messages given as arguments are sent in order, and the command exits;
// otherwise it reads messages from standard input, one per line, with a
// prompt when that is a terminal. Lines starting with "/" are commands:
// /media URL[,URL…] attaches media to the next message, /retry sends the
// latest message again as Twilio's retry does (same MessageSid), /wait 4h
// ages the phone's cookie (the server's clock is its own), /cookies shows
// the cookie held, /status delivered posts the status callback Twilio would
// send about a message to the phone, /help lists them and /quit leaves;
// start a line with "//" to send a text beginning with "/".
//
// Without a terminal, the command stops at the first message that fails
// (a network error, or an answer other than 2xx) and exits with status 1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, isTerminal(os.Stdin), os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "phone:", err)
		os.Exit(1)
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// listFlag collects repeated, comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// phone is one session: the fake Twilio, the phone, and the state of the
// interactive commands.
type phone struct {
	p       *convotest.Phone
	tw      *convotest.Twilio
	media   []string // attached to every message
	next    []string // attached to the next message only
	verbose bool
	out     io.Writer
	webhook string // the -url
	signed  string // whether requests are signed, said plainly

	mu     sync.Mutex
	offset time.Duration // how far /wait moved the phone's clock
}

func (ph *phone) now() time.Time {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return time.Now().Add(ph.offset)
}

// run is the whole command, with its environment passed in for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, interactive bool, stdout, stderr io.Writer) error {
	ph, texts, err := newPhone(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if len(texts) > 0 {
		for _, text := range texts {
			if err := ph.send(ctx, text); err != nil {
				return err
			}
		}
		return nil
	}
	if interactive {
		fmt.Fprintf(stdout, "Texting %s from %s via %s (%s). /help lists commands.\n", ph.p.Key().To, ph.p.Key().From, ph.webhook, ph.signed)
	}
	return ph.session(ctx, stdin, interactive, stderr)
}

// newPhone parses the command's flags and returns the phone they
// describe, and the messages given as arguments.
func newPhone(args []string, getenv func(string) string, stdout, stderr io.Writer) (*phone, []string, error) {
	fs := flag.NewFlagSet("phone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	webhook := fs.String("url", "http://127.0.0.1:8080/sms", "the webhook `URL` to text, path included")
	from := fs.String("from", "+14158675308", "the phone's number")
	to := fs.String("to", "+15005550006", "your Twilio number")
	var media listFlag
	fs.Var(&media, "media", "media `URL` to attach to each message (repeat, or separate with commas)")
	whatsapp := fs.Bool("whatsapp", false, `text over WhatsApp ("whatsapp:" before both numbers)`)
	name := fs.String("name", "", "the WhatsApp profile name (default "+convotest.DefaultProfileName+")")
	publicURL := fs.String("public-url", "", "the `URL` to sign, when the server is configured with another one than -url")
	verbose := fs.Bool("v", false, "also print each answer's status and TwiML")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: phone [flags] [message ...]\n\nTexts a Twilio messaging webhook as Twilio would; set TWILIO_AUTH_TOKEN to sign.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if len(media) > convo.MaxMedia {
		return nil, nil, fmt.Errorf("%d -media URLs; a message carries at most %d", len(media), convo.MaxMedia)
	}
	if *whatsapp {
		*from, *to = withPrefix(*from), withPrefix(*to)
	}
	ph := &phone{media: media, verbose: *verbose, out: stdout, webhook: *webhook, signed: "unsigned: set TWILIO_AUTH_TOKEN to sign"}
	token := getenv("TWILIO_AUTH_TOKEN")
	if token != "" {
		ph.signed = "signed with TWILIO_AUTH_TOKEN"
	}
	tw, err := convotest.NewTwilioURL(*webhook, convotest.TwilioOptions{AuthToken: token, URL: *publicURL, Now: ph.now})
	if err != nil {
		return nil, nil, err
	}
	ph.tw, ph.p = tw, tw.Phone(*from, *to)
	if *name != "" {
		ph.p.ProfileName = *name
	}
	return ph, fs.Args(), nil
}

// session reads messages and commands from stdin, one per line, until its
// end or /quit. Without a terminal, the first failure ends it.
func (ph *phone) session(ctx context.Context, stdin io.Reader, interactive bool, stderr io.Writer) error {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for {
		if interactive {
			fmt.Fprint(ph.out, "> ")
		}
		if !sc.Scan() {
			break
		}
		err := ph.line(ctx, sc.Text())
		if errors.Is(err, errQuit) {
			return nil
		}
		if err != nil {
			if !interactive || ctx.Err() != nil {
				return err
			}
			fmt.Fprintln(stderr, "phone:", err)
		}
	}
	if interactive {
		fmt.Fprintln(ph.out)
	}
	return sc.Err()
}

var errQuit = errors.New("quit")

const help = `Each line is a message. Commands:
  /media URL[,URL...]  attach media to the next message
  /retry               send the latest message again, as Twilio's retry (same MessageSid)
  /wait DURATION       age the phone's cookie, such as /wait 4h (the server's clock is its own)
  /cookies             show the cookie the phone holds for the webhook
  /status STATUS [SID] post the status callback Twilio would send about a message to the
                       phone (delivered, undelivered, failed, read, …) to the webhook
  /quit                leave
  //text               send "/text"`

// line handles one line of input: a command or a message.
func (ph *phone) line(ctx context.Context, line string) error {
	if strings.HasPrefix(line, "//") {
		return ph.send(ctx, line[1:])
	}
	if !strings.HasPrefix(line, "/") {
		if strings.TrimSpace(line) == "" && len(ph.next) == 0 && len(ph.media) == 0 {
			return nil
		}
		return ph.send(ctx, line)
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	return ph.command(ctx, cmd, strings.TrimSpace(arg))
}

// command runs the command /cmd arg.
func (ph *phone) command(ctx context.Context, cmd, arg string) error {
	switch cmd {
	case "media":
		var l listFlag
		_ = l.Set(arg)
		if len(l) == 0 {
			return errors.New("/media needs a URL")
		}
		ph.next = append(ph.next, l...)
		fmt.Fprintf(ph.out, "(%d media attached to the next message)\n", len(ph.next))
	case "retry":
		r, err := ph.p.Retry(ctx)
		if err != nil {
			return err
		}
		return ph.print(r)
	case "wait":
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 {
			return fmt.Errorf("/wait needs a duration such as 30m or 4h, not %q", arg)
		}
		ph.mu.Lock()
		ph.offset += d
		ph.mu.Unlock()
		fmt.Fprintf(ph.out, "(%s pass for the phone's cookie)\n", d)
	case "cookies":
		ph.cookies()
	case "status":
		return ph.status(ctx, arg)
	case "help":
		fmt.Fprintln(ph.out, help)
	case "quit", "exit":
		return errQuit
	default:
		return fmt.Errorf("unknown command /%s; /help lists them", cmd)
	}
	return nil
}

// cookies prints the cookies the phone holds.
func (ph *phone) cookies() {
	cookies := ph.p.Cookies()
	if len(cookies) == 0 {
		fmt.Fprintln(ph.out, "(no cookie)")
	}
	for _, c := range cookies {
		exp, _ := ph.tw.Jar().ExpiresAt(ph.p.Key(), c.Name)
		fmt.Fprintf(ph.out, "(cookie %s, %d bytes, expires in %s)\n", c.Name, len(c.Value), exp.Sub(ph.now()).Round(time.Second))
	}
}

// status posts a status callback, "STATUS [SID]", to the webhook: what
// Twilio posts to a message's status callback URL.
func (ph *phone) status(ctx context.Context, arg string) error {
	fields := strings.Fields(arg)
	if len(fields) == 0 || len(fields) > 2 {
		return errors.New("/status needs a status, such as /status delivered, and optionally the message's SID")
	}
	cb := convotest.StatusCallback{Status: strings.ToLower(fields[0])}
	if len(fields) == 2 {
		cb.MessageSID = fields[1]
	}
	r, err := ph.p.SendStatus(ctx, cb)
	if err != nil {
		return err
	}
	if r.Status < 200 || r.Status > 299 {
		return fmt.Errorf("the webhook answered the status callback with HTTP %d: %s", r.Status, firstLine(r.Body))
	}
	fmt.Fprintf(ph.out, "(status callback %s for %s: HTTP %d)\n", cb.Status, r.Form.Get("MessageSid"), r.Status)
	return nil
}

// send texts body with the media attached and prints the answer.
func (ph *phone) send(ctx context.Context, body string) error {
	m := convotest.Message{Body: body}
	urls := append(append([]string(nil), ph.media...), ph.next...)
	ph.next = nil
	if len(urls) > convo.MaxMedia {
		return fmt.Errorf("%d media; a message carries at most %d", len(urls), convo.MaxMedia)
	}
	for _, u := range urls {
		m.Media = append(m.Media, convo.Media{URL: u})
	}
	r, err := ph.p.SendMessage(ctx, m)
	if err != nil {
		if r != nil { // an answer that is not TwiML
			return fmt.Errorf("%w: %s", err, firstLine(r.Body))
		}
		return err
	}
	return ph.print(r)
}

// print shows an answer as a phone would: its texts, media and redirect.
// An answer other than 2xx is an error, as Twilio logs it (error 11200).
func (ph *phone) print(r *convotest.Reply) error {
	if ph.verbose {
		fmt.Fprintf(ph.out, "[HTTP %d, MessageSid %s]\n", r.Status, r.Form.Get("MessageSid"))
		if len(r.Body) > 0 {
			fmt.Fprintf(ph.out, "[%s]\n", strings.TrimSpace(string(r.Body)))
		}
	}
	if r.Status < 200 || r.Status > 299 {
		return fmt.Errorf("the webhook answered HTTP %d: %s", r.Status, firstLine(r.Body))
	}
	if len(r.Messages) == 0 && r.Redirect == nil {
		fmt.Fprintln(ph.out, "(no reply)")
	}
	for _, m := range r.Messages {
		if m.Body != "" || len(m.Media) == 0 {
			fmt.Fprintln(ph.out, m.Body)
		}
		for _, u := range m.Media {
			fmt.Fprintf(ph.out, "[media %s]\n", u)
		}
	}
	if rd := r.Redirect; rd != nil {
		method := rd.Method
		if method == "" {
			method = http.MethodPost
		}
		fmt.Fprintf(ph.out, "[redirect %s %s, not followed]\n", method, rd.URL)
	}
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func withPrefix(addr string) string {
	if strings.HasPrefix(addr, "whatsapp:") {
		return addr
	}
	return "whatsapp:" + addr
}
