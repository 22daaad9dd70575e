package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/stores"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	ourNumber = "+15005550006"
	userPhone = "+14158675308"
)

type kit struct {
	clock  *convotest.Clock
	store  convo.Store
	h      *convo.Handler
	timers *fakeTimers
	rest   *fakeREST
	bot    *Reminders
	tw     *convotest.Twilio
	logs   *convotest.Logs
}

// openStore opens a store for a test.
type openStore func(t *testing.T) convo.Store

func openMemory(t *testing.T) convo.Store { return openNamed(t, "memory", "") }

func openSQLite(t *testing.T) convo.Store {
	return openNamed(t, "sqlite", filepath.Join(t.TempDir(), "followup.db"))
}

// openNamed opens the store name on dsn as the program does.
func openNamed(t *testing.T, name, dsn string) convo.Store {
	s, closer, err := stores.Open(context.Background(), "followup", name, dsn, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closer.Close() })
	return s
}

// eachStore runs test on memory and on SQLite.
func eachStore(t *testing.T, test func(t *testing.T, open openStore)) {
	t.Run("memory", func(t *testing.T) { test(t, openMemory) })
	t.Run("sqlite", func(t *testing.T) { test(t, openSQLite) })
}

// newKit runs the bot on a store from open (wrapped by wrap unless it is
// nil) with fake timers, a fake REST API and a hand-moved clock, driven by
// convotest's fake Twilio.
func newKit(t *testing.T, open openStore, wrap func(convo.Store, *convotest.Clock) convo.Store) *kit {
	t.Helper()
	logs, log := convotest.NewLogs()
	k := &kit{clock: convotest.NewClock(time.Time{}), timers: &fakeTimers{}, rest: newFakeREST(t), logs: logs}
	k.store = open(t)
	if wrap != nil {
		k.store = wrap(k.store, k.clock)
	}
	k.bot = NewReminders(NewTwilioSender(testSID, testToken, k.rest.client()), k.timers.AfterFunc, k.clock.Now, log)
	t.Cleanup(k.bot.Close)
	var err error
	k.h, err = convo.NewHandler(convo.Config{Store: k.store, Reply: k.bot.Reply(), AuthToken: testToken, HistorySize: HistorySize, Now: k.clock.Now, Logger: log})
	require.NoError(t, err)
	k.bot.Attach(k.h)
	k.tw = convotest.NewTwilio(k.h, convotest.TwilioOptions{AuthToken: testToken, AccountSID: testSID, Now: k.clock.Now})
	return k
}

func say(t *testing.T, p *convotest.Phone, body string) string {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, 200, r.Status, string(r.Body))
	return r.String()
}

// load returns key's conversation and its state.
func (k *kit) load(t *testing.T, key convo.Key) (*convo.Conversation, State) {
	t.Helper()
	c, err := k.h.Conversation(context.Background(), key)
	require.NoError(t, err)
	s, err := convo.StateOf[State](c)
	require.NoError(t, err)
	return c, s
}

func TestReminderIsSentThroughRESTAndRecorded(t *testing.T) {
	eachStore(t, func(t *testing.T, open openStore) {
		k := newKit(t, open, nil)
		p := k.tw.Phone(userPhone, ourNumber)

		assert.Equal(t, `OK, I'll text you "buy milk" in 10s.`, say(t, p, "REMIND 10s buy milk"))
		assert.Equal(t, []time.Duration{10 * time.Second}, k.timers.Waiting())
		k.clock.Advance(4 * time.Second)
		assert.Equal(t, "Waiting:\n1. \"buy milk\" in 6s", say(t, p, "list"))
		_, s := k.load(t, p.Key())
		require.Len(t, s.Pending, 1)
		assert.Equal(t, "buy milk", s.Pending[0].Text)
		assert.Empty(t, k.rest.Calls(), "nothing is sent before its time")

		k.clock.Advance(6 * time.Second)
		require.Equal(t, 1, k.timers.FireAll())

		calls := k.rest.Calls()
		require.Len(t, calls, 1)
		call := calls[0]
		assert.Equal(t, "POST", call.Method)
		assert.Equal(t, "api.twilio.com", call.Host)
		assert.Equal(t, "/2010-04-01/Accounts/"+testSID+"/Messages.json", call.Path)
		assert.Equal(t, testSID, call.User)
		assert.Equal(t, testToken, call.Password)
		assert.Equal(t, userPhone, call.Form.Get("To"), "the reminder goes to the user")
		assert.Equal(t, ourNumber, call.Form.Get("From"), "from the number they texted")
		assert.Equal(t, "Reminder: buy milk", call.Form.Get("Body"))

		c, s := k.load(t, p.Key())
		assert.Empty(t, s.Pending)
		require.Len(t, c.History, 3)
		last := c.History[2]
		assert.Equal(t, "", last.In)
		assert.Equal(t, "Reminder: buy milk", last.Out)
		assert.True(t, last.At.Equal(k.clock.Now()), "dated by the bot's clock: %v", last.At)
		assert.Equal(t, 2, c.Count, "a reminder is not an inbound message")
		assert.Contains(t, k.logs.String(), "reminder sent")
		assert.NotContains(t, k.logs.String(), userPhone)

		assert.Equal(t, "No reminders waiting. "+usage, say(t, p, "LIST"))
		c, _ = k.load(t, p.Key())
		assert.Equal(t, "Reminder: buy milk", c.History[len(c.History)-2].Out, "the webhook keeps the recorded turn")
	})
}

func TestReminderScheduledOncePerMessage(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	first := say(t, p, "REMIND 1m stretch")
	r, err := p.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, first, r.String())
	assert.Len(t, k.timers.Waiting(), 1, "Twilio's retry is answered from the retry record")

	// The Handler re-runs a turn after a conflicting save elsewhere: the
	// reply function then sees the same message again.
	c := &convo.Conversation{Key: p.Key(), Count: 2}
	m := &convo.Message{MessageSID: r.Form.Get("MessageSid"), From: userPhone, To: ourNumber, Body: "REMIND 1m stretch"}
	_, err = k.bot.Reply()(context.Background(), c, m)
	require.NoError(t, err)
	assert.Len(t, k.timers.Waiting(), 1, "one timer per MessageSid")
	require.Equal(t, 1, k.timers.FireAll())
	assert.Len(t, k.rest.Calls(), 1)
}

// racingStore saves the conversation through another Handler (another
// server) just before the reminders' first save, so that the reminders'
// save meets a real version conflict.
type racingStore struct {
	convo.Store
	other *convo.Handler
	once  sync.Once
	t     *testing.T
}

func (r *racingStore) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if strings.Contains(string(data), `"out":"Reminder: water plants"`) {
		r.once.Do(func() {
			require.NoError(r.t, r.other.Update(ctx, key, func(c *convo.Conversation) error {
				c.Count++
				c.History = append(c.History, convo.Turn{In: "meanwhile", Out: "elsewhere"})
				return nil
			}))
		})
	}
	return r.Store.Save(ctx, key, data, ttl, prev, next)
}

func TestReminderRecordRetriesOnConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, open openStore) {
		var racer *racingStore
		k := newKit(t, open, func(s convo.Store, clock *convotest.Clock) convo.Store {
			other, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true, Now: clock.Now})
			require.NoError(t, err)
			racer = &racingStore{Store: s, other: other, t: t}
			return racer
		})
		p := k.tw.Phone(userPhone, ourNumber)
		say(t, p, "REMIND 2h water plants")
		say(t, p, "REMIND 3h feed cat")
		k.clock.Advance(2 * time.Hour)

		// Fire only the first timer.
		k.timers.mu.Lock()
		first := k.timers.timers[0]
		first.started = true
		k.timers.mu.Unlock()
		first.f()

		c, s := k.load(t, p.Key())
		assert.Equal(t, 3, c.Count, "the racing save is kept")
		require.GreaterOrEqual(t, len(c.History), 2)
		assert.Equal(t, "elsewhere", c.History[len(c.History)-2].Out, "the racing turn is kept")
		assert.Equal(t, "Reminder: water plants", c.History[len(c.History)-1].Out)
		require.Len(t, s.Pending, 1, "only the sent reminder is taken off")
		assert.Equal(t, "feed cat", s.Pending[0].Text)
		assert.Len(t, k.rest.Calls(), 1, "the message is sent once, whatever the retries")
	})
}

func TestReminderSendFailure(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	say(t, p, "REMIND 5 call mom")
	assert.Equal(t, []time.Duration{5 * time.Minute}, k.timers.Waiting())
	k.rest.mu.Lock()
	k.rest.fail = 400
	k.rest.mu.Unlock()
	k.timers.FireAll()

	c, s := k.load(t, p.Key())
	assert.Empty(t, s.Pending, "a failed reminder is taken off the list")
	for _, turn := range c.History {
		assert.NotContains(t, turn.Out, "Reminder:", "nothing recorded as sent")
	}
	logs := k.logs.String()
	assert.Contains(t, logs, "sending a reminder failed")
	assert.Contains(t, logs, "error 21211")
	assert.NotContains(t, logs, userPhone, "Twilio's error text quotes the number; it stays out of the log")
}

func TestReminderLimitsAndUsage(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	assert.Equal(t, usage, say(t, p, "hello"))
	assert.Equal(t, "No reminders waiting. "+usage, say(t, p, "LIST"))
	assert.Equal(t, `I don't understand "tomorrow" as a delay. `+usage, say(t, p, "remind tomorrow eggs"))
	for i := range MaxPending {
		assert.Contains(t, say(t, p, "REMIND 1h thing "+string(rune('a'+i))), "OK, I'll text you")
	}
	assert.Equal(t, "You already have 5 reminders waiting, the most I keep. Text LIST to see them.", say(t, p, "REMIND 1h one more"))
	assert.Len(t, k.timers.Waiting(), MaxPending)

	k.bot.Close()
	assert.Empty(t, k.timers.Waiting(), "Close stops the timers")
	assert.Contains(t, k.logs.String(), "reminders dropped at shutdown")
	assert.Contains(t, k.logs.String(), "count=5")
}

func TestParseRemind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		d    time.Duration
		what string
	}{
		{"10s buy milk", 10 * time.Second, "buy milk"},
		{"1h30m  call   mom ", 90 * time.Minute, "call mom"},
		{"15 stand up", 15 * time.Minute, "stand up"},
		{"10M x", 10 * time.Minute, "x"},
		{"24h renew", 24 * time.Hour, "renew"},
		{"25h renew", 0, ""},
		{"1441 renew", 0, ""},
		{"99999999999999999999 x", 0, ""},
		{"500ms x", 0, ""},
		{"-5s x", 0, ""},
		{"0 x", 0, ""},
		{"10s", 0, ""},
		{"", 0, ""},
		{"soon x", 0, ""},
		{"10s " + strings.Repeat("é", MaxText), 10 * time.Second, strings.Repeat("é", MaxText)},
		{"10s " + strings.Repeat("é", MaxText+1), 0, ""},
	} {
		d, what, problem := ParseRemind(tc.in)
		assert.Equal(t, tc.d, d, "%q", tc.in)
		assert.Equal(t, tc.what, what, "%q", tc.in)
		assert.Equal(t, tc.d != 0, problem == "", "%q: %s", tc.in, problem)
	}
}

func FuzzParseRemind(f *testing.F) {
	for _, s := range []string{"10s buy milk", "1h30m x", "15 y", "", "9223372036854775807 z", "1e9h x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, what, problem := ParseRemind(s)
		if problem != "" {
			require.Zero(t, d)
			require.Empty(t, what)
			return
		}
		require.True(t, d >= MinDelay && d <= MaxDelay, "delay %v", d)
		require.NotEmpty(t, what)
		require.LessOrEqual(t, len([]rune(what)), MaxText)
		require.Equal(t, strings.Join(strings.Fields(what), " "), what)
	})
}

func TestReminderKeywordsTakeAnySpace(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	assert.Equal(t, `OK, I'll text you "call mom" in 2m0s.`, say(t, p, " remind\t2m\ncall mom"))
}

// A reminder whose timer a restart dropped is forgotten once overdue.
func TestReminderLostAtRestartIsForgotten(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	say(t, p, "REMIND 10m stretch")
	k.bot.Close() // the process stops: the timer is gone
	k.clock.Advance(10*time.Minute + Overdue/2)
	assert.Equal(t, "Waiting:\n1. \"stretch\" in 0s", say(t, p, "LIST"), "just due: perhaps being sent")
	k.clock.Advance(Overdue)
	assert.Equal(t, "No reminders waiting. "+usage, say(t, p, "LIST"))
}

// A reminder due after the conversation's idle expiry is still sent, but
// not recorded: the conversation is over, and the next message starts a
// fresh one.
func TestReminderAfterTheConversationExpired(t *testing.T) {
	k := newKit(t, openMemory, nil)
	p := k.tw.Phone(userPhone, ourNumber)
	say(t, p, "REMIND 5h renew passport")
	k.clock.Advance(5 * time.Hour)
	require.Equal(t, 1, k.timers.FireAll())
	assert.Len(t, k.rest.Calls(), 1, "sent")
	c, _ := k.load(t, p.Key())
	assert.Zero(t, c.Count, "the expired conversation is not made again")
	assert.NotContains(t, k.logs.String(), "recording a reminder failed")
	assert.Equal(t, "No reminders waiting. "+usage, say(t, p, "LIST"), "a fresh conversation")
}
