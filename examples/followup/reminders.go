package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"

	"github.com/smsconvo/convo"
)

// Limits of the REMIND command.
const (
	MinDelay    = time.Second
	MaxDelay    = 24 * time.Hour
	MaxText     = 300 // characters of a reminder's text
	MaxPending  = 5   // reminders waiting per conversation
	HistorySize = 10  // turns a conversation keeps, reminders included

	// Overdue is how long after its time a reminder still listed is
	// taken for lost (a restart dropped its timer) and forgotten.
	Overdue = time.Minute
)

// State is the typed state of a conversation: its reminders still to send.
type State struct {
	Pending []Reminder `json:"pending,omitempty"`
}

// Reminder is one message to send later.
type Reminder struct {
	ID   string    `json:"id"` // the MessageSid of the REMIND message
	Due  time.Time `json:"due"`
	Text string    `json:"text"`
}

// Sender sends a text message outside a webhook: through Twilio's REST API
// in production (see TwilioSender).
type Sender interface {
	// Send sends body from the address from to the address to and
	// returns the new message's SID.
	Send(ctx context.Context, to, from, body string) (string, error)
}

// AfterFunc runs f once d has passed, in its own goroutine, and returns a
// function that cancels it (reporting whether it did); time.AfterFunc's
// shape, so that tests can run timers by hand.
type AfterFunc func(d time.Duration, f func()) (stop func() bool)

// RealAfterFunc is AfterFunc on the system's timers.
func RealAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Reminders is the bot: its Reply answers REMIND, LIST and HELP messages,
// and it later sends each reminder through its Sender, then records it in
// the conversation's History (and removes it from the pending ones) with a
// compare-and-set save that retries on convo.ErrConflict, so a webhook turn
// saving the same conversation at the same moment loses nothing.
//
// Reminders wait in this process's timers: a restart forgets them (a real
// service would keep them in a job queue). They are recorded in the
// conversation through the Handler's Update (see Attach), outside any
// webhook, so the Handler's store must keep conversations on a server.
type Reminders struct {
	conversations Updater
	send          Sender
	after         AfterFunc
	now           func() time.Time
	log           *slog.Logger

	mu      sync.Mutex
	pending map[string]func() bool // by reminder ID
	closed  bool
	running sync.WaitGroup // reminders being delivered
}

// Updater changes a conversation outside a webhook, as *convo.Handler does.
type Updater interface {
	Update(ctx context.Context, key convo.Key, fn func(c *convo.Conversation) error) error
}

// NewReminders returns the bot. after and now default to the system's
// timers and clock. Give it the Handler that runs its Reply with Attach
// before the first message.
func NewReminders(send Sender, after AfterFunc, now func() time.Time, log *slog.Logger) *Reminders {
	if after == nil {
		after = RealAfterFunc
	}
	if now == nil {
		now = time.Now
	}
	return &Reminders{send: send, after: after, now: now, log: log, pending: map[string]func() bool{}}
}

// Attach gives the bot the Handler that runs its Reply, through which it
// records the reminders it sends.
func (r *Reminders) Attach(h Updater) { r.conversations = h }

// Reply is the reply function to give convo.Config.
func (r *Reminders) Reply() convo.ReplyFunc { return convo.WithState(r.answer) }

const usage = `Text REMIND <when> <what>, such as "REMIND 10m call mom" (<when>: 30s, 10m, 2h or 1h30m, up to 24h), or LIST.`

func (r *Reminders) answer(_ context.Context, c *convo.Conversation, m *convo.Message, s *State) (convo.Reply, error) {
	word, rest := cutWord(m.Body)
	now := r.now()
	// A reminder still listed well after its time was lost (a restart
	// dropped its timer): forget it rather than list it for ever.
	s.Pending = slices.DeleteFunc(s.Pending, func(p Reminder) bool { return now.Sub(p.Due) > Overdue })
	switch strings.ToUpper(word) {
	case "REMIND":
		d, what, problem := ParseRemind(rest)
		if problem != "" {
			return convo.Text(problem + " " + usage), nil
		}
		if len(s.Pending) >= MaxPending {
			return convo.Textf("You already have %d reminders waiting, the most I keep. Text LIST to see them.", MaxPending), nil
		}
		id := m.MessageSID
		if id == "" {
			id = randomID()
		}
		rem := Reminder{ID: id, Due: now.Add(d), Text: what}
		s.Pending = append(s.Pending, rem)
		// The Handler may run this turn again (after a conflicting save
		// elsewhere); schedule keeps one timer per message.
		r.schedule(c.Key, rem, d)
		return convo.Textf("OK, I'll text you %q in %s.", what, d), nil
	case "LIST":
		if len(s.Pending) == 0 {
			return convo.Text("No reminders waiting. " + usage), nil
		}
		var b strings.Builder
		for i, p := range s.Pending {
			fmt.Fprintf(&b, "\n%d. %q in %s", i+1, p.Text, max(p.Due.Sub(now), 0).Round(time.Second))
		}
		return convo.Text("Waiting:" + b.String()), nil
	}
	return convo.Text(usage), nil
}

// ParseRemind reads what follows REMIND: a delay and a text. The delay is a
// Go duration ("90s", "10m", "1h30m") or a bare number of minutes, between
// MinDelay and MaxDelay. It returns the delay and the text, or a problem to
// tell the user.
func ParseRemind(s string) (time.Duration, string, string) {
	when, what := cutWord(s)
	what = strings.Join(strings.Fields(what), " ")
	if when == "" {
		return 0, "", "When should I remind you?"
	}
	d, err := time.ParseDuration(strings.ToLower(when))
	if err != nil {
		n, nerr := strconv.Atoi(when)
		if nerr != nil {
			return 0, "", fmt.Sprintf("I don't understand %q as a delay.", truncate(when, 12))
		}
		d = time.Duration(min(max(n, -1), int(MaxDelay/time.Minute)+1)) * time.Minute
	}
	switch {
	case d < MinDelay:
		return 0, "", "The delay must be at least a second."
	case d > MaxDelay:
		return 0, "", "I keep reminders for 24 hours at most."
	case what == "":
		return 0, "", "What should I remind you of?"
	case utf8.RuneCountInString(what) > MaxText:
		return 0, "", fmt.Sprintf("Please keep the text under %d characters.", MaxText+1)
	}
	return d, what, ""
}

// cutWord splits s, trimmed, at its first white space.
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// schedule starts rem's timer unless it is already waiting.
func (r *Reminders) schedule(key convo.Key, rem Reminder, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if _, ok := r.pending[rem.ID]; ok {
		return
	}
	r.pending[rem.ID] = r.after(d, func() {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		delete(r.pending, rem.ID)
		r.running.Add(1)
		r.mu.Unlock()
		defer r.running.Done()
		r.deliver(key, rem)
	})
}

// Waiting returns how many reminders wait for their time.
func (r *Reminders) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Close cancels the reminders still waiting (logging how many) and waits for
// those being delivered.
func (r *Reminders) Close() {
	r.mu.Lock()
	r.closed = true
	n := 0
	for _, stop := range r.pending {
		if stop() {
			n++
		}
	}
	r.pending = nil
	r.mu.Unlock()
	if n > 0 {
		r.log.Warn("followup: reminders dropped at shutdown", "count", n)
	}
	r.running.Wait()
}

// deliver sends rem to the user and records it in the conversation.
func (r *Reminders) deliver(key convo.Key, rem Reminder) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := "Reminder: " + rem.Text
	// The user's address is the conversation's From; our number its To.
	sid, err := r.send.Send(ctx, key.From, key.To, body)
	if err != nil {
		r.log.Error("followup: sending a reminder failed", "conversation", key.Redacted(), "reminder", rem.ID, "error", describe(err))
		body = "" // nothing was sent: only take the reminder off the list
	} else {
		r.log.Info("followup: reminder sent", "conversation", key.Redacted(), "reminder", rem.ID, "message_sid", sid)
	}
	if err := r.record(ctx, key, rem.ID, body); err != nil {
		r.log.Error("followup: recording a reminder failed", "conversation", key.Redacted(), "reminder", rem.ID, "error", err)
	}
}

// errGone is what record's update returns for a conversation that ended or
// expired meanwhile: it is left alone.
var errGone = errors.New("the conversation is over")

// record takes the reminder id off the conversation's pending list and, when
// out is not empty, appends an outbound-only turn to its History. The
// Handler's Update runs it as a turn would: a webhook of the same pair, on
// this server or another, saving at the same moment loses nothing.
func (r *Reminders) record(ctx context.Context, key convo.Key, id, out string) error {
	err := r.conversations.Update(ctx, key, func(c *convo.Conversation) error {
		if c.Count == 0 {
			return errGone
		}
		s, err := convo.StateOf[State](c)
		if err != nil {
			return err
		}
		if s.Pending = deleteID(s.Pending, id); len(s.Pending) == 0 {
			c.State = nil
		} else if err := convo.SetState(c, s); err != nil {
			return err
		}
		if out != "" {
			c.History = append(c.History, convo.Turn{At: r.now(), Out: out})
			c.History = c.History[max(len(c.History)-HistorySize, 0):]
		}
		return nil
	})
	if errors.Is(err, errGone) {
		return nil
	}
	return err
}

func deleteID(rs []Reminder, id string) []Reminder {
	out := rs[:0]
	for _, r := range rs {
		if r.ID != id {
			out = append(out, r)
		}
	}
	return out
}

// describe returns err for a log line. Twilio's REST errors can quote the
// phone numbers of the request, so only their status and code are kept.
func describe(err error) string {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return fmt.Sprintf("twilio: status %d, error %d (%s)", rest.Status, rest.Code, rest.MoreInfo)
	}
	return err.Error()
}

func randomID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return "local-" + hex.EncodeToString(b[:])
}

// truncate shortens s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
