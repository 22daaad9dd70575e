package convo

import (
	"context"
	"strconv"
)

// SeedNames returns the names Twilio's "Create an SMS Conversation" guide
// greets, keyed by phone number: Rey, Finn and Chewy.
func SeedNames() map[string]string {
	return map[string]string{
		"+14158675308": "Rey",
		"+12349013030": "Finn",
		"+12348134522": "Chewy",
	}
}

// Greeter returns the seed's reply function: it greets the sender by the
// name names gives their From address, or "Friend", and counts their
// messages: "Rey has messaged +15005550006 3 times", the count including
// the message being answered. A nil map greets everyone as "Friend".
// Greeter reads names on every message and never changes it: do not change
// it while the handler runs either.
func Greeter(names map[string]string) ReplyFunc {
	return func(_ context.Context, c *Conversation, m *Message) (Reply, error) {
		name, ok := names[m.From]
		if !ok {
			name = "Friend"
		}
		return Text(name + " has messaged " + m.To + " " + strconv.Itoa(c.Count) + " times"), nil
	}
}
