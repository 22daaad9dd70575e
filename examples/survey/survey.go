package main

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smsconvo/convo"
)

// Step is where a survey stands: the question waiting for its answer.
type Step int

// The steps of the survey, in order.
const (
	AskName   Step = iota // waiting for the name; the zero Step, so a new conversation starts here
	AskColour             // waiting for the favourite colour
	AskRating             // waiting for the 1-5 rating
	Done                  // all three answered
)

// Survey is the typed state of one conversation, kept by the store between
// messages as JSON (see convo.WithState). A conversation past its idle
// expiry starts again from the zero Survey. An answer skipped is left
// empty (0 for the rating).
type Survey struct {
	Step   Step   `json:"step"`
	Name   string `json:"name,omitempty"`
	Colour string `json:"colour,omitempty"`
	Rating int    `json:"rating,omitempty"`
	Tries  int    `json:"tries,omitempty"` // wrong answers to the current question
}

// Colours are the answers the colour question accepts, by name or number.
var Colours = []string{"red", "green", "blue", "yellow", "purple"}

// MaxNameRunes bounds the name answer.
const MaxNameRunes = 40

// Reply is the survey's reply function.
//
// Its commands work at any step, in any case, and avoid the words Twilio
// reserves for opt-outs (STOP, END, QUIT, HELP, START, YES, …; see
// convo.OptOut): RESTART (or START OVER) clears the answers and asks the
// first question again; SKIP leaves the current question unanswered; BYE
// ends the conversation (convo's Conversation.End), so the next message
// starts afresh; "?" explains and repeats the current question.
//
// Twilio's own words are handled as Twilio handles them: STOP (and its
// synonyms) ends the conversation, and nothing is answered, since Twilio
// blocks messages to the phone from then on and confirms the opt-out
// itself; START (or YES, UNSTOP) lets messages through again and begins
// the survey afresh; HELP (or INFO) gets the survey's explanation (with
// Twilio's default opt-out handling, Twilio answers its own help text too).
var Reply = convo.WithState(answer)

func answer(_ context.Context, c *convo.Conversation, m *convo.Message, s *Survey) (convo.Reply, error) {
	if s.Step < AskName || s.Step > Done {
		// A state from another version of this program: start again
		// rather than fail every message.
		*s = Survey{}
	}
	if reply, ok := command(c, m, s); ok {
		return reply, nil
	}
	if c.Count == 1 {
		// The first message of a conversation (or the first after the idle
		// expiry, BYE, STOP or START) says hello; its text is not an
		// answer.
		*s = Survey{}
		return convo.Text(Greeting), nil
	}
	reply := s.next(strings.TrimSpace(m.Body))
	if resumed(c) {
		reply.Messages[0].Body = "Welcome back! " + reply.Messages[0].Body
	}
	return reply, nil
}

// Greeting answers the first message of a conversation.
const Greeting = "Hi! Three quick questions; text SKIP to skip one, RESTART to start over or ? for help. 1/3: What's your name?"

// command answers m when it is an opt-out keyword or one of the survey's
// commands.
func command(c *convo.Conversation, m *convo.Message, s *Survey) (convo.Reply, bool) {
	switch m.OptOut {
	case convo.OptOutStop:
		// Twilio sends no reply to a phone that opted out: end the
		// conversation and answer nothing (the Handler would drop a
		// reply anyway).
		*s = Survey{}
		c.End()
		return convo.Reply{}, true
	case convo.OptOutHelp:
		return help(s), true
	}
	switch strings.ToUpper(strings.Join(strings.Fields(m.Body), " ")) {
	case "RESTART", "START OVER":
		*s = Survey{}
		return convo.Text("OK, starting over. " + question(s)), true
	case "BYE":
		*s = Survey{}
		c.End()
		return convo.Text("Survey closed, nothing kept. Text anything to start again."), true
	case "?":
		return help(s), true
	case "SKIP":
		if c.Count > 1 {
			return s.skip(), true
		}
	}
	return convo.Reply{}, false
}

func help(s *Survey) convo.Reply {
	return convo.Text("This is a 3-question survey. Text SKIP to skip a question, RESTART to start over, BYE to stop. " + question(s))
}

// ResumeGap is the pause after which the survey greets a returning user
// before going on where they left off.
const ResumeGap = 15 * time.Minute

// resumed reports whether the user comes back to the conversation after a
// pause of ResumeGap or more. (A pause beyond the store's idle expiry is
// never seen: the store has forgotten the conversation by then.)
func resumed(c *convo.Conversation) bool {
	if len(c.History) == 0 {
		return false
	}
	return c.LastActive.Sub(c.History[len(c.History)-1].At) >= ResumeGap
}

// next takes text as the answer to the current question.
func (s *Survey) next(text string) convo.Reply {
	switch s.Step {
	case AskName:
		name, problem := parseName(text)
		if problem != "" {
			return s.reask(problem)
		}
		s.Name, s.Step, s.Tries = name, AskColour, 0
		return convo.Text("Nice to meet you, " + name + ". " + question(s))
	case AskColour:
		colour, problem := parseColour(text)
		if problem != "" {
			return s.reask(problem)
		}
		s.Colour, s.Step, s.Tries = colour, AskRating, 0
		return convo.Text(capitalize(colour) + ", good choice. " + question(s))
	case AskRating:
		rating, problem := parseRating(text)
		if problem != "" {
			return s.reask(problem)
		}
		s.Rating, s.Step, s.Tries = rating, Done, 0
		return s.thanks()
	default: // Done
		return convo.Text("You've already answered" + s.comma() + ": " + s.summary() + " Text RESTART to answer again.")
	}
}

// skip leaves the current question unanswered and moves on.
func (s *Survey) skip() convo.Reply {
	if s.Step == Done {
		return convo.Text("Nothing left to skip. " + s.summary() + " Text RESTART to answer again.")
	}
	s.Step, s.Tries = s.Step+1, 0
	if s.Step == Done {
		return s.thanks()
	}
	return convo.Text("Skipped. " + question(s))
}

func (s *Survey) thanks() convo.Reply {
	return convo.Text("Thank you" + s.comma() + "! " + s.summary() + " Text RESTART to answer again.")
}

// comma returns ", Name", or "" when the name was skipped.
func (s *Survey) comma() string {
	if s.Name == "" {
		return ""
	}
	return ", " + s.Name
}

// question returns the question of s's step.
func question(s *Survey) string {
	switch s.Step {
	case AskName:
		return "1/3: What's your name?"
	case AskColour:
		return "2/3: Your favourite colour? " + colourChoices() + "."
	case AskRating:
		return "3/3: How do you like SMS surveys, from 1 (not at all) to 5 (love them)?"
	}
	return s.summary()
}

// reask answers a wrong answer: what was wrong, and the question again. From
// the third wrong answer on it also mentions the keywords.
func (s *Survey) reask(problem string) convo.Reply {
	s.Tries++
	msg := problem + " " + question(s)
	if s.Tries >= 3 {
		msg += " (Text SKIP to skip it, RESTART to start over or BYE to stop.)"
	}
	return convo.Text(msg)
}

// summary lists the answers, "skipped" for those skipped.
func (s *Survey) summary() string {
	rating := "skipped"
	if s.Rating > 0 {
		rating = fmt.Sprintf("%d/5", s.Rating)
	}
	return fmt.Sprintf("Your answers: %s, %s, %s.", cmp.Or(s.Name, "skipped"), cmp.Or(s.Colour, "skipped"), rating)
}

func colourChoices() string {
	var b strings.Builder
	b.WriteString("Reply with a number or a name: ")
	for i, c := range Colours {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i+1) + " " + c)
	}
	return b.String()
}

// parseName accepts a name of 1 to MaxNameRunes characters with at least
// one letter; spaces inside are collapsed. It returns the name, or a
// problem to tell the user.
func parseName(text string) (string, string) {
	name := strings.Join(strings.Fields(text), " ")
	switch {
	case name == "":
		return "", "I didn't get a name."
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", fmt.Sprintf("That's a long name! Please keep it under %d characters.", MaxNameRunes+1)
	case strings.IndexFunc(name, unicode.IsLetter) < 0:
		return "", "A name needs at least one letter."
	}
	for _, r := range name {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return "", "Please use only letters, digits and punctuation."
		}
	}
	return name, ""
}

// parseColour accepts one of Colours by name (any case) or by its number.
func parseColour(text string) (string, string) {
	t := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(text), "."))
	if n, err := strconv.Atoi(t); err == nil {
		if n >= 1 && n <= len(Colours) {
			return Colours[n-1], ""
		}
		return "", fmt.Sprintf("There's no colour number %d.", n)
	}
	for _, c := range Colours {
		if t == c {
			return c, ""
		}
	}
	if t == "" {
		return "", "I didn't get a colour."
	}
	return "", fmt.Sprintf("Sorry, %q isn't one of the choices.", truncate(text, 20))
}

// parseRating accepts a whole number from 1 to 5, optionally written "4/5".
func parseRating(text string) (int, string) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), "/5"))
	n, err := strconv.Atoi(t)
	switch {
	case err != nil:
		return 0, "Please answer with a number."
	case n < 1 || n > 5:
		return 0, "The scale goes from 1 to 5."
	}
	return n, ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// truncate shortens s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
