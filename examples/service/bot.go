package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/smsconvo/convo"
)

// Item is one entry of the shop's menu.
type Item struct {
	Name  string `json:"name"`
	Cents int    `json:"cents"`
}

// Menu is what the shop sells: the SMS bot texts it, GET /api/menu serves it.
var Menu = []Item{{"espresso", 250}, {"flat white", 380}, {"croissant", 290}}

// Hours are the shop's opening hours.
const Hours = "We're open Mon-Fri 7:00-18:00 and Sat 8:00-14:00."

// NewBot returns the shop's reply function, a small keyword bot: HOURS and
// MENU (any case) answer from the shop's data; anything else is echoed with
// the conversation's message count. (HELP, STOP and START are Twilio's: it
// handles them itself, and convo sends nothing after a STOP.)
//
// Each reply message carries statusCallback, when it is not empty, as its
// statusCallback attribute: Twilio then posts the message's delivery
// statuses there, to the webhook itself, whose Config.OnStatus records
// them.
func NewBot(statusCallback string) convo.ReplyFunc {
	return func(_ context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
		reply := answer(c, m)
		for i := range reply.Messages {
			reply.Messages[i].StatusCallback = statusCallback
		}
		return reply, nil
	}
}

func answer(c *convo.Conversation, m *convo.Message) convo.Reply {
	switch strings.ToUpper(strings.TrimSpace(m.Body)) {
	case "HOURS":
		return convo.Text(Hours)
	case "MENU":
		var b strings.Builder
		b.WriteString("Today:")
		for _, it := range Menu {
			fmt.Fprintf(&b, " %s $%d.%02d,", it.Name, it.Cents/100, it.Cents%100)
		}
		return convo.Text(strings.TrimSuffix(b.String(), ",") + ".")
	}
	return convo.Textf("You said %q (message %d). Text HOURS or MENU.", truncate(m.Body, 80), c.Count)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
