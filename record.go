package convo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// RecordVersion is the format version [MarshalRecord] writes. Records of
// every earlier version keep decoding; records of a later one are refused.
const RecordVersion = 1

// record is the JSON form of a conversation, format version 1.
type record struct {
	V          int             `json:"v"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	Count      int             `json:"count"`
	Started    time.Time       `json:"started"`
	LastActive time.Time       `json:"last_active"`
	History    []recordTurn    `json:"history,omitempty"`
	State      json.RawMessage `json:"state,omitempty"`
	Handled    []recordHandled `json:"handled,omitempty"`
	Ended      bool            `json:"ended,omitempty"`
}

type recordTurn struct {
	At  time.Time `json:"at"`
	In  string    `json:"in"`
	Out string    `json:"out"`
}

type recordHandled struct {
	ID    string `json:"id"`
	Reply string `json:"reply"`
}

// MarshalRecord encodes c (all but its Version, which stores keep beside
// the record) as a self-describing JSON object carrying its format version,
// for stores that keep records as bytes: an operator can read it with any
// JSON tool. State must be valid JSON, as [SetState] makes it.
func MarshalRecord(c *Conversation) ([]byte, error) {
	rec := record{
		V: RecordVersion, From: c.Key.From, To: c.Key.To, Count: c.Count,
		Started: c.Started.UTC(), LastActive: c.LastActive.UTC(),
		State: c.State, Ended: c.Ended,
	}
	if len(c.History) > 0 {
		rec.History = make([]recordTurn, len(c.History))
		for i, t := range c.History {
			rec.History[i] = recordTurn{At: t.At.UTC(), In: t.In, Out: t.Out}
		}
	}
	if len(c.Handled) > 0 {
		rec.Handled = make([]recordHandled, len(c.Handled))
		for i, h := range c.Handled {
			rec.Handled[i] = recordHandled{ID: h.ID, Reply: string(h.Reply)}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&rec); err != nil {
		return nil, fmt.Errorf("convo: encoding record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalRecord decodes a record written by [MarshalRecord] of this or an
// earlier version. It returns an error wrapping [ErrCorrupt] when data is not
// such a record, or when it was written by a later format version, which
// this version cannot read without losing what it does not know.
func UnmarshalRecord(data []byte) (*Conversation, error) {
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case head.V == nil:
		return nil, fmt.Errorf("%w: record has no format version", ErrCorrupt)
	case *head.V > RecordVersion:
		return nil, fmt.Errorf("%w: record format version %d is newer than this version of convo reads (%d)", ErrCorrupt, *head.V, RecordVersion)
	case *head.V < 1:
		return nil, fmt.Errorf("%w: record format version %d is unknown", ErrCorrupt, *head.V)
	}
	var rec record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if rec.From == "" || rec.To == "" || rec.Count < 0 {
		return nil, fmt.Errorf("%w: record lacks its key or has a negative count", ErrCorrupt)
	}
	c := &Conversation{
		Key:   Key{From: rec.From, To: rec.To},
		Count: rec.Count, Started: rec.Started, LastActive: rec.LastActive,
		State: rec.State, Ended: rec.Ended,
	}
	if len(rec.History) > 0 {
		c.History = make([]Turn, len(rec.History))
		for i, t := range rec.History {
			c.History[i] = Turn(t)
		}
	}
	if len(rec.Handled) > 0 {
		c.Handled = make([]Handled, len(rec.Handled))
		for i, h := range rec.Handled {
			c.Handled[i] = Handled{ID: h.ID, Reply: []byte(h.Reply)}
		}
	}
	return c, nil
}
