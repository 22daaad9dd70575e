package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/smsconvo/convo"
)

// MaxDeliveries bounds the delivery statuses the service keeps.
const MaxDeliveries = 1000

// Delivery is one status callback: what became of a message the service
// sent.
type Delivery struct {
	MessageSID string    `json:"message_sid"`
	Status     string    `json:"status"`               // queued, sent, delivered, undelivered, failed, read
	ErrorCode  string    `json:"error_code,omitempty"` // Twilio's, such as 30003, when it failed
	From       string    `json:"from"`                 // the conversation's From: the customer
	To         string    `json:"to"`                   // the conversation's To: the shop's number
	At         time.Time `json:"at"`                   // when the callback arrived
}

// deliveries keeps the latest status callbacks, newest last, in memory: a
// real service would write them to its database.
type deliveries struct {
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	list []Delivery
}

// record is convo.Config.OnStatus: it keeps s, and logs a failed delivery.
func (d *deliveries) record(ctx context.Context, s *convo.Status) {
	e := Delivery{MessageSID: s.MessageSID, Status: s.Status, ErrorCode: s.ErrorCode, From: s.Key.From, To: s.Key.To, At: d.now()}
	d.mu.Lock()
	d.list = append(d.list, e)
	if n := len(d.list) - MaxDeliveries; n > 0 {
		d.list = slices.Delete(d.list, 0, n)
	}
	d.mu.Unlock()
	if s.Status == "failed" || s.Status == "undelivered" {
		d.log.LogAttrs(ctx, slog.LevelWarn, "message not delivered", slog.String("conversation", s.Key.Redacted()),
			slog.String("message_sid", s.MessageSID), slog.String("status", s.Status), slog.String("error_code", s.ErrorCode))
	}
}

// of returns the deliveries of the conversation key, or all of them when
// key is zero, newest first.
func (d *deliveries) of(key convo.Key) []Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Delivery{}
	for i := len(d.list) - 1; i >= 0; i-- {
		if e := d.list[i]; key == (convo.Key{}) || (e.From == key.From && e.To == key.To) {
			out = append(out, e)
		}
	}
	return out
}
