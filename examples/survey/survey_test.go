package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/stores"
	"github.com/smsconvo/convo/memstore"
)

const ourNumber = "+15005550006"

// kit is the survey's Handler on a store, driven by convotest's fake
// Twilio, with a clock the test moves by hand.
type kit struct {
	clock *convotest.Clock
	h     *convo.Handler
	tw    *convotest.Twilio
}

// eachStore runs test on the memory store and on SQLite (the program's
// default), in a temporary file, as the program opens them.
func eachStore(t *testing.T, test func(t *testing.T, k *kit)) {
	for _, name := range []string{"memory", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			dsn := ""
			if name == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "survey.db")
			}
			store, closer, err := stores.Open(context.Background(), "survey", name, dsn, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			t.Cleanup(func() { closer.Close() })
			test(t, newKit(t, store, convotest.TwilioOptions{}))
		})
	}
}

func newKit(t *testing.T, store convo.Store, opts convotest.TwilioOptions) *kit {
	t.Helper()
	const token = "survey-test-token"
	clock := convotest.NewClock(time.Time{})
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: Reply, AuthToken: token, Now: clock.Now})
	require.NoError(t, err)
	opts.AuthToken, opts.Now = token, clock.Now
	return &kit{clock: clock, h: h, tw: convotest.NewTwilio(h, opts)}
}

// say sends body from phone and returns the reply's text.
func say(t *testing.T, p *convotest.Phone, body string) string {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, 200, r.Status, string(r.Body))
	return r.String()
}

// stored returns p's conversation as its next message would find it.
func stored(t *testing.T, k *kit, p *convotest.Phone) *convo.Conversation {
	t.Helper()
	c, err := k.h.Conversation(context.Background(), p.Key())
	require.NoError(t, err)
	return c
}

func state(t *testing.T, k *kit, p *convotest.Phone) Survey {
	t.Helper()
	s, err := convo.StateOf[Survey](stored(t, k, p))
	require.NoError(t, err)
	return s
}

const (
	qColour = "2/3: Your favourite colour? Reply with a number or a name: 1 red, 2 green, 3 blue, 4 yellow, 5 purple."
	qRating = "3/3: How do you like SMS surveys, from 1 (not at all) to 5 (love them)?"
	helpMsg = "This is a 3-question survey. Text SKIP to skip a question, RESTART to start over, BYE to stop. "
)

func TestSurveyDialog(t *testing.T) {
	eachStore(t, func(t *testing.T, k *kit) {
		ada := k.tw.Phone("+14158675308", ourNumber)
		for _, step := range []struct{ in, want string }{
			{"hello", Greeting},
			{"   ", "I didn't get a name. 1/3: What's your name?"},
			{"  Ada   Lovelace ", "Nice to meet you, Ada Lovelace. " + qColour},
			{"pink", `Sorry, "pink" isn't one of the choices. ` + qColour},
			{"9", "There's no colour number 9. " + qColour},
			{"BLUE.", "Blue, good choice. " + qRating},
			{"great", "Please answer with a number. " + qRating},
			{"7", "The scale goes from 1 to 5. " + qRating},
			{"0", "The scale goes from 1 to 5. " + qRating + " (Text SKIP to skip it, RESTART to start over or BYE to stop.)"},
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
		assert.Equal(t, 11, stored(t, k, ada).Count)

		// Another phone has its own survey.
		finn := k.tw.Phone("+12349013030", ourNumber)
		assert.Equal(t, Greeting, say(t, finn, "hi"))
		assert.Equal(t, "Nice to meet you, Finn. "+qColour, say(t, finn, "Finn"))
		assert.Equal(t, Survey{Step: AskColour, Name: "Finn"}, state(t, k, finn))
		assert.Equal(t, Done, state(t, k, ada).Step)
	})
}

func TestSurveyCommands(t *testing.T) {
	eachStore(t, func(t *testing.T, k *kit) {
		p := k.tw.Phone("+14158675308", ourNumber)
		say(t, p, "hi")
		say(t, p, "Rey")
		assert.Equal(t, helpMsg+qColour, say(t, p, "?"))
		assert.Equal(t, "Green, good choice. "+qRating, say(t, p, "2"), "? keeps the place")

		assert.Equal(t, "OK, starting over. 1/3: What's your name?", say(t, p, " restart "))
		assert.Equal(t, Survey{}, state(t, k, p), "RESTART clears the answers")
		assert.Equal(t, "OK, starting over. 1/3: What's your name?", say(t, p, "start  over"))
		assert.Equal(t, "Nice to meet you, Rey Skywalker. "+qColour, say(t, p, "Rey Skywalker"))

		assert.Equal(t, "Survey closed, nothing kept. Text anything to start again.", say(t, p, "Bye"))
		r := stored(t, k, p)
		assert.Zero(t, r.Count, "BYE ends the conversation")
		assert.Nil(t, r.State, "nothing kept")
		assert.Equal(t, Greeting, say(t, p, "Rey"), "after BYE the next message starts afresh")
	})
}

func TestSurveySkip(t *testing.T) {
	k := newKit(t, memory(t), convotest.TwilioOptions{})
	p := k.tw.Phone("+14158675308", ourNumber)
	assert.Equal(t, Greeting, say(t, p, "skip"), "the first message is a greeting, SKIP or not")
	assert.Equal(t, "Skipped. "+qColour, say(t, p, "SKIP"))
	assert.Equal(t, "Skipped. "+qRating, say(t, p, "skip"))
	assert.Equal(t, "Thank you! Your answers: skipped, skipped, 5/5. Text RESTART to answer again.", say(t, p, "5"))
	assert.Equal(t, "Nothing left to skip. Your answers: skipped, skipped, 5/5. Text RESTART to answer again.", say(t, p, "skip"))
	assert.Equal(t, "You've already answered: Your answers: skipped, skipped, 5/5. Text RESTART to answer again.", say(t, p, "hm"))

	say(t, p, "RESTART")
	say(t, p, "Chewy")
	say(t, p, "1")
	assert.Equal(t, "Thank you, Chewy! Your answers: Chewy, red, skipped. Text RESTART to answer again.", say(t, p, "skip"))
}

// Twilio's opt-out words, with its default handling (the keyword is the
// Body) and with Advanced Opt-Out (OptOutType sent too).
func TestSurveyOptOut(t *testing.T) {
	for _, advanced := range []bool{false, true} {
		k := newKit(t, memory(t), convotest.TwilioOptions{AdvancedOptOut: advanced})
		p := k.tw.Phone("+14158675308", ourNumber)
		say(t, p, "hi")
		say(t, p, "Rey")
		assert.Equal(t, helpMsg+qColour, say(t, p, "HELP"), "HELP is no name, and keeps the place")
		assert.Equal(t, helpMsg+qColour, say(t, p, "info"))

		r, err := p.Send(context.Background(), "STOP")
		require.NoError(t, err)
		assert.Empty(t, r.Messages, "nothing is answered to STOP: Twilio blocks messages to the phone")
		assert.Zero(t, stored(t, k, p).Count, "STOP ends the conversation")
		assert.Nil(t, stored(t, k, p).State)

		assert.Equal(t, Greeting, say(t, p, "START"), "START begins the survey again")
		say(t, p, "Rey")
		r, err = p.Send(context.Background(), "quit")
		require.NoError(t, err)
		assert.Empty(t, r.Messages, "QUIT is one of Twilio's STOP words")
		assert.Equal(t, Greeting, say(t, p, "unstop"))
	}
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
		assert.Equal(t, Greeting, say(t, p, "5"), "after the idle expiry the survey starts over")
		assert.Equal(t, Survey{}, state(t, k, p))
	})
}

func memory(t *testing.T) convo.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
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

// FuzzSurvey feeds the reply function arbitrary messages at every step:
// it never fails or panics, answers one non-empty message unless the
// message opted out, and keeps its state consistent with the step.
func FuzzSurvey(f *testing.F) {
	for _, s := range []string{"Ada", "3", "4/5", "RESTART", "?", "bye", "skip", "STOP", "", "\x00", "ÿ", strings.Repeat("x", 300)} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, body string, step uint8) {
		form := map[string][]string{"From": {"+14158675308"}, "To": {ourNumber}, "Body": {body}}
		m, err := convo.ParseMessage(form)
		require.NoError(t, err)
		c := &convo.Conversation{Key: m.Key(), Count: 2}
		require.NoError(t, convo.SetState(c, Survey{Step: Step(step % 5), Name: "Ada", Colour: "red", Rating: 3}))
		r, err := Reply(context.Background(), c, m)
		require.NoError(t, err)
		if m.OptOut == convo.OptOutStop {
			require.Empty(t, r.Messages)
			require.True(t, c.Ended())
			return
		}
		require.Len(t, r.Messages, 1)
		require.NotEmpty(t, r.Messages[0].Body)
		s, err := convo.StateOf[Survey](c)
		require.NoError(t, err)
		require.True(t, s.Step >= AskName && s.Step <= Done, "step %d", s.Step)
		require.LessOrEqual(t, len([]rune(s.Name)), MaxNameRunes)
		if s.Step > AskColour && s.Colour != "" {
			require.Contains(t, Colours, s.Colour)
		}
		require.True(t, s.Rating >= 0 && s.Rating <= 5)
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
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: Reply, InsecureSkipSignatureCheck: true})
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
