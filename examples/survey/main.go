// Command survey runs a three-question SMS survey on convo: a multi-step
// conversation whose typed state (the Survey struct, through
// convo.WithState) lives in a store between messages.
//
//	> hi
//	< Hi! Three quick questions; text SKIP to skip one, RESTART to start over or ? for help. 1/3: What's your name?
//	> Ada
//	< Nice to meet you, Ada. 2/3: Your favourite colour? Reply with a number or a name: 1 red, 2 green, 3 blue, 4 yellow, 5 purple.
//	> pink
//	< Sorry, "pink" isn't one of the choices. 2/3: Your favourite colour? …
//	> 3
//	< Blue, good choice. 3/3: How do you like SMS surveys, from 1 (not at all) to 5 (love them)?
//	> 4
//	< Thank you, Ada! Your answers: Ada, blue, 4/5. Text RESTART to answer again.
//
// Wrong answers are explained and the question asked again. A user who
// leaves halfway resumes where they left off ("Welcome back!" after 15
// minutes), until the conversation's idle expiry (four hours, as Twilio's
// cookies) and the survey starts over. Its commands are words Twilio does
// not reserve: RESTART, SKIP, BYE and "?" (see Reply); Twilio's STOP ends
// the conversation and START begins it again.
//
// Run it from the repository's root with
//
//	go run ./examples/survey
//
// It serves the webhook at POST /sms (http://127.0.0.1:8080/sms) and a
// health line at GET /. By default it keeps conversations in SQLite, in
// survey.db (table survey_conversations) in the working directory, so
// answers survive a restart; -store memory needs nothing; -h lists the
// flags. Set TWILIO_AUTH_TOKEN to check Twilio's signatures; without it
// the webhook accepts unsigned requests and says so loudly. Text it from a
// terminal with the phone example:
//
//	go run ./examples/phone -url http://127.0.0.1:8080/sms
package main

import (
	"fmt"
	"io"

	"github.com/smsconvo/convo/examples/internal/serve"
)

// Path is where the webhook is served.
const Path = "/sms"

var survey = serve.Webhook{
	Name:  "survey",
	About: "Serves a three-question SMS survey (SKIP, RESTART, BYE and ? are its commands).",
	Store: "sqlite",
	Path:  Path,
	Reply: Reply,
	Try: func(w io.Writer, url string, _ bool) {
		fmt.Fprintf(w, "try: go run ./examples/phone -url %s\n", url)
	},
}

var run = survey.Run

func main() { serve.Main("survey", nil, run) }
