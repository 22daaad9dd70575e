package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/smsconvo/convo"
)

// conversationJSON is what GET /api/conversations/{from}/{to} answers.
type conversationJSON struct {
	From       string     `json:"from"`
	To         string     `json:"to"`
	Count      int        `json:"count"`
	Started    time.Time  `json:"started"`
	LastActive time.Time  `json:"last_active"`
	History    []turnJSON `json:"history"`
	Deliveries []Delivery `json:"deliveries"` // the statuses of the messages sent to it, newest first
}

type turnJSON struct {
	At  time.Time `json:"at"`
	In  string    `json:"in"`
	Out string    `json:"out"`
}

// api serves the staff's view of the conversations, behind a bearer token.
type api struct {
	store         convo.Store
	conversations *convo.Handler
	deliveries    *deliveries
	token         string
	log           *slog.Logger
}

// authorized wraps next with the bearer-token check, compared in constant
// time.
func (a *api) authorized(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		next(w, r)
	})
}

func pathKey(r *http.Request) convo.Key {
	return convo.Key{From: r.PathValue("from"), To: r.PathValue("to")}
}

// getConversation answers the conversation of a From/To pair as JSON: 404
// when there is none (nothing stored, or it expired or ended).
func (a *api) getConversation(w http.ResponseWriter, r *http.Request) {
	key := pathKey(r)
	c, err := a.conversations.Conversation(r.Context(), key)
	if err != nil {
		a.storeError(w, r, key, err)
		return
	}
	if c.Count == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such conversation"})
		return
	}
	out := conversationJSON{From: key.From, To: key.To, Count: c.Count, Started: c.Started, LastActive: c.LastActive,
		History: []turnJSON{}, Deliveries: a.deliveries.of(key)}
	for _, t := range c.History {
		out.History = append(out.History, turnJSON{At: t.At, In: t.In, Out: t.Out})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteConversation forgets a conversation (a user's erasure request).
// Deleting a missing one succeeds too.
func (a *api) deleteConversation(w http.ResponseWriter, r *http.Request) {
	key := pathKey(r)
	if err := a.store.Delete(r.Context(), key); err != nil {
		a.storeError(w, r, key, err)
		return
	}
	a.log.Info("conversation deleted", "conversation", key.Redacted())
	w.WriteHeader(http.StatusNoContent)
}

// getDeliveries answers the latest delivery statuses, newest first.
func (a *api) getDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.deliveries.of(convo.Key{}))
}

func (a *api) storeError(w http.ResponseWriter, r *http.Request, key convo.Key, err error) {
	status := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, convo.ErrNoExchange):
		// cookiestore: the conversation lives in Twilio's cookie, not here.
		status = http.StatusNotImplemented
	case errors.Is(err, convo.ErrCorrupt):
		status = http.StatusInternalServerError
	}
	a.log.LogAttrs(r.Context(), slog.LevelError, "api: store call failed",
		slog.String("conversation", key.Redacted()), slog.Int("status", status), slog.String("error", err.Error()))
	writeJSON(w, status, map[string]string{"error": http.StatusText(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
