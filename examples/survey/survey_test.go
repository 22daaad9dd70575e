package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/smsconvo/convo/sqlstore"
)

const ourNumber = "+15005550006"

// kit is the survey on a memstore, driven by convotest's fake Twilio, with a
// clock the test moves by hand.
type kit struct {
	clock *convotest.Clock
	store convo.Store
	tw    *convotest.Twilio
}

// testStores are the stores the survey's tests run on: memory, and SQLite
// (the program's default) in a temporary file, both on the test's clock.
var testStores = []struct {
	name string
	open func(t *testing.T, e convo.Expiry) convo.Store
}{
	{"memory", func(t *testing.T, e convo.Expiry) convo.Store {
		s := memstore.New(memstore.Options{Expiry: e})
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"sqlite", func(t *testing.T, e convo.Expiry) convo.Store {
		db, err := sqlstore.Open(sqlstore.SQLite, filepath.Join(t.TempDir(), "survey.db"))
		require.NoError(t, err)
		s, err := sqlstore.New(db, sqlstore.Options{Expiry: e})
		require.NoError(t, err)
		require.NoError(t, s.Migrate(context.Background()))
		t.Cleanup(func() { s.Close(); db.Close() })
		return s
	}},
}

// eachStore runs test on every store of testStores.
func eachStore(t *testing.T, test func(t *testing.T, k *kit)) {
	for _, st := range testStores {
		t.Run(st.name, func(t *testing.T) {
			clock := convotest.NewClock(time.Time{})
			test(t, newKit(t, clock, st.open(t, convo.Expiry{Now: clock.Now})))
		})
	}
}

func newKit(t *testing.T, clock *convotest.Clock, store convo.Store) *kit {
	t.Helper()
	const token = "survey-test-token"
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: Reply, AuthToken: token, Now: clock.Now})
	require.NoError(t, err)
	return &kit{clock: clock, store: store, tw: convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: token, Now: clock.Now})}
}

// say sends body from phone and returns the reply's text.
func say(t *testing.T, p *convotest.Phone, body string) string {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, 200, r.Status, string(r.Body))
	return r.String()
}

func state(t *testing.T, k *kit, p *convotest.Phone) Survey {
	t.Helper()
	c, err := k.store.Load(context.Background(), p.Key())
	require.NoError(t, err)
	s, err := convo.StateOf[Survey](c)
	require.NoError(t, err)
	return s
}

const (
	greeting = "Hi! Three quick questions; text RESTART to start over or ? for help. 1/3: What's your name?"
	qColour  = "2/3: Your favourite colour? Reply with a number or a name: 1 red, 2 green, 3 blue, 4 yellow, 5 purple."
	qRating  = "3/3: How do you like SMS surveys, from 1 (not at all) to 5 (love them)?"
)

func TestSurveyDialog(t *testing.T) {
	eachStore(t, func(t *testing.T, k *kit) {
		ada := k.tw.Phone("+14158675308", ourNumber)
		for _, step := range []struct{ in, want string }{
			{"hello", greeting},
			{"   ", "I didn't get a name. 1/3: What's your name?"},
			{"  Ada   Lovelace ", "Nice to meet you, Ada Lovelace. " + qColour},
			{"pink", `Sorry, "pink" isn't one of the choices. ` + qColour},
			{"9", "There's no colour number 9. " + qColour},
			{"BLUE.", "Blue, good choice. " + qRating},
			{"great", "Please answer with a number. " + qRating},
			{"7", "The scale goes from 1 to 5. " + qRating},
			{"0", "The scale goes from 1 to 5. " + qRating + " (Text RESTART to start over or QUIT to stop.)"},
			{"4/5", "Thank you, Ada Lovelace! Your answers: Ada Lovelace, blue, 4/5. Text RESTART to answer again."},
			{"anything", "You've already answered, Ada Lovelace: Your answers: Ada Lovelace, blue, 4/5. Text RESTART to answer again."},
		} {
			assert.Equal(t, step.want, say(t, ada, step.in), "answering %q", step.in)
		}
		assert.Equal(t, Survey{Step: Done, Name: "Ada Lovelace", Colour: "blue", Rating: 4}, state(t, k, ada))

		// A retry of the last message is answered the same and changes nothing.
		r, err := ada.Retry(context.Background())
		require.NoError(t, err)
		assert.Contains(t, r.String(), "You've already answered")

		// Another phone has its own survey.
		finn := k.tw.Phone("+12349013030", ourNumber)
		assert.Equal(t, greeting, say(t, finn, "hi"))
		assert.Equal(t, "Nice to meet you, Finn. "+qColour, say(t, finn, "Finn"))
		assert.Equal(t, Survey{Step: AskColour, Name: "Finn"}, state(t, k, finn))
		assert.Equal(t, Done, state(t, k, ada).Step)
	})
}

func TestSurveyKeywords(t *testing.T) {
	eachStore(t, func(t *testing.T, k *kit) {
		p := k.tw.Phone("+14158675308", ourNumber)
		say(t, p, "hi")
		say(t, p, "Rey")
		assert.Equal(t, "This is a 3-question survey. Text RESTART to start over, QUIT to stop. "+qColour, say(t, p, "?"))
		assert.Equal(t, "This is a 3-question survey. Text RESTART to start over, QUIT to stop. "+qColour, say(t, p, "help"))
		assert.Equal(t, "Green, good choice. "+qRating, say(t, p, "2"), "HELP keeps the place")

		assert.Equal(t, "OK, starting over. 1/3: What's your name?", say(t, p, " restart "))
		assert.Equal(t, Survey{}, state(t, k, p), "RESTART clears the answers")
		assert.Equal(t, "Nice to meet you, Rey Skywalker. "+qColour, say(t, p, "Rey Skywalker"))

		assert.Equal(t, "Survey closed, nothing kept. Text anything to start again.", say(t, p, "Quit"))
		c, err := k.store.Load(context.Background(), p.Key())
		require.NoError(t, err)
		assert.Zero(t, c.Count, "QUIT ends the conversation")
		assert.Nil(t, c.State)
		assert.Equal(t, greeting, say(t, p, "Rey"), "after QUIT the next message starts afresh")
	})
}

func TestSurveyResumesThenExpires(t *testing.T) {
	eachStore(t, func(t *testing.T, k *kit) {
		p := k.tw.Phone("+14158675308", ourNumber)
		say(t, p, "hi")
		say(t, p, "Chewy")

		k.clock.Advance(5 * time.Minute)
		assert.Equal(t, "Purple, good choice. "+qRating, say(t, p, "purple"), "a short pause goes on without fuss")

		k.clock.Advance(3 * time.Hour)
		assert.Equal(t, "Welcome back! Please answer with a number. "+qRating, say(t, p, "sorry, where were we?"),
			"after a long pause the survey resumes where it stopped")
		assert.Equal(t, Survey{Step: AskRating, Name: "Chewy", Colour: "purple", Tries: 1}, state(t, k, p))

		k.clock.Advance(convo.DefaultIdle)
		assert.Equal(t, greeting, say(t, p, "5"), "after the store's idle expiry the survey starts over")
		assert.Equal(t, Survey{}, state(t, k, p))
	})
}

func TestParseAnswers(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		ok       bool
	}{
		{"Ada", "Ada", true},
		{" Jean  Luc\tPicard ", "Jean Luc Picard", true},
		{"Zoë", "Zoë", true},
		{"42", "", false},
		{"", "", false},
		{strings.Repeat("a", MaxNameRunes), strings.Repeat("a", MaxNameRunes), true},
		{strings.Repeat("a", MaxNameRunes+1), "", false},
		{"Ada\u0007", "", false},
	} {
		name, problem := parseName(tc.in)
		assert.Equal(t, tc.name, name, "%q", tc.in)
		assert.Equal(t, tc.ok, problem == "", "%q: %s", tc.in, problem)
	}
	for _, tc := range []struct{ in, colour string }{
		{"red", "red"}, {" Yellow ", "yellow"}, {"5", "purple"}, {"1", "red"}, {"blue.", "blue"},
		{"0", ""}, {"6", ""}, {"-1", ""}, {"bleu", ""}, {"", ""}, {"red green", ""},
	} {
		colour, problem := parseColour(tc.in)
		assert.Equal(t, tc.colour, colour, "%q", tc.in)
		assert.Equal(t, tc.colour != "", problem == "", "%q: %s", tc.in, problem)
	}
	for _, tc := range []struct {
		in     string
		rating int
	}{
		{"1", 1}, {"5", 5}, {" 3 ", 3}, {"4/5", 4}, {"4 /5", 4},
		{"0", 0}, {"6", 0}, {"3.5", 0}, {"five", 0}, {"", 0}, {"/5", 0},
	} {
		rating, problem := parseRating(tc.in)
		assert.Equal(t, tc.rating, rating, "%q", tc.in)
		assert.Equal(t, tc.rating != 0, problem == "", "%q: %s", tc.in, problem)
	}
}

// FuzzSurvey feeds the reply function arbitrary messages at every step: it
// never fails or panics, always answers one non-empty message, and keeps
// its state consistent with the step.
func FuzzSurvey(f *testing.F) {
	for _, s := range []string{"Ada", "3", "4/5", "RESTART", "?", "quit", "", "\x00", "ÿ", strings.Repeat("x", 300)} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, body string, step uint8) {
		c := convo.NewConversation(convo.Key{From: "+14158675308", To: ourNumber})
		c.Count = 2
		start := Survey{Step: Step(step % 5), Name: "Ada", Colour: "red", Rating: 3}
		require.NoError(t, convo.SetState(c, start))
		r, err := Reply(context.Background(), c, &convo.Message{From: c.Key.From, To: c.Key.To, Body: body})
		require.NoError(t, err)
		require.Len(t, r.Messages, 1)
		require.NotEmpty(t, r.Messages[0].Body)
		if c.Ended {
			return
		}
		s, err := convo.StateOf[Survey](c)
		require.NoError(t, err)
		require.True(t, s.Step >= AskName && s.Step <= Done, "step %d", s.Step)
		if s.Step > AskName {
			require.NotEmpty(t, s.Name)
			require.LessOrEqual(t, len([]rune(s.Name)), MaxNameRunes)
		}
		if s.Step > AskColour {
			require.Contains(t, Colours, s.Colour)
		}
		if s.Step == Done {
			require.True(t, s.Rating >= 1 && s.Rating <= 5)
		}
	})
}

// BenchmarkSurveyTurn measures one survey message sent by convotest's fake
// Twilio through the Handler (typed state decoded and encoded, signature
// unchecked) on a memstore, the fake's own work (building the form, parsing
// the TwiML) included: a wrong colour answer, which keeps the survey at the
// same question, so every iteration does the same work.
func BenchmarkSurveyTurn(b *testing.B) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: Reply, InsecureSkipSignatureCheck: true, RetryRecords: -1})
	require.NoError(b, err)
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{})
	p := tw.Phone("+14158675308", ourNumber)
	ctx := context.Background()
	for _, body := range []string{"hi", "Ada"} {
		_, err := p.Send(ctx, body)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := p.Send(ctx, "pink")
		if err != nil || r.Status != 200 {
			b.Fatal(err, r.Status)
		}
	}
}
