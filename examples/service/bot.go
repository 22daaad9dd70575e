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

// Bot is the shop's reply function, a small keyword bot: HOURS and MENU
// (any case) answer from the shop's data; anything else is echoed with the
// conversation's message count.
func Bot(_ context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
	switch strings.ToUpper(strings.TrimSpace(m.Body)) {
	case "HOURS":
		return convo.Text(Hours), nil
	case "MENU":
		var b strings.Builder
		b.WriteString("Today:")
		for _, it := range Menu {
			fmt.Fprintf(&b, " %s $%d.%02d,", it.Name, it.Cents/100, it.Cents%100)
		}
		return convo.Text(strings.TrimSuffix(b.String(), ",") + "."), nil
	}
	return convo.Textf("You said %q (message %d). Text HOURS or MENU.", truncate(m.Body, 80), c.Count), nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
