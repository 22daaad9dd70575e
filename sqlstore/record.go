package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/smsconvo/convo"
)

// nulEscape is how encoding/json writes a NUL character inside a string.
var nulEscape = []byte(`\u0000`)

// encodeData returns what the data column holds for c: the record of
// [convo.MarshalRecord], a JSON object. PostgreSQL's JSONB refuses a NUL
// character in a string (and an inbound message's Body may hold one), so
// for PostgreSQL a record that holds one is stored instead as a JSON
// string whose text is the record: the NUL then appears as the six
// characters \u0000 within it, which JSONB keeps. decodeData reads both
// forms in every dialect.
func encodeData(d Dialect, c *convo.Conversation) (string, error) {
	rec, err := convo.MarshalRecord(c)
	if err != nil {
		return "", err
	}
	if d == PostgreSQL && bytes.Contains(rec, nulEscape) {
		wrapped, err := json.Marshal(string(rec))
		if err != nil {
			return "", fmt.Errorf("sqlstore: wrapping record: %w", err)
		}
		return string(wrapped), nil
	}
	return string(rec), nil
}

// decodeData decodes the data column of key's row: a record object, or a
// JSON string holding one (see encodeData). Anything else, and a record of
// another key, is an error wrapping convo.ErrCorrupt.
func decodeData(key convo.Key, data []byte) (*convo.Conversation, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var text string
		if err := json.Unmarshal(trimmed, &text); err != nil {
			return nil, fmt.Errorf("%w: wrapped record: %v", convo.ErrCorrupt, err)
		}
		inner := bytes.TrimLeft([]byte(text), " \t\r\n")
		if len(inner) == 0 || inner[0] != '{' {
			return nil, fmt.Errorf("%w: wrapped record is not a JSON object", convo.ErrCorrupt)
		}
		data = inner
	}
	c, err := convo.UnmarshalRecord(data)
	if err != nil {
		return nil, err
	}
	if c.Key != key {
		return nil, fmt.Errorf("%w: the row of %s holds the record of %s", convo.ErrCorrupt, key.Redacted(), c.Key.Redacted())
	}
	return c, nil
}
