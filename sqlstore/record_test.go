package sqlstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fuzzKey = convo.Key{From: "+14158675308", To: "+15005550006"}

func TestEncodeDataWrapsNULOnPostgres(t *testing.T) {
	c := convo.NewConversation(fuzzKey)
	c.History = []convo.Turn{{At: time.Unix(0, 0), In: "a\x00b"}}
	for _, d := range []Dialect{SQLite, PostgreSQL, MySQL} {
		data, err := encodeData(d, c)
		require.NoError(t, err)
		assert.Equal(t, d == PostgreSQL, data[0] == '"', "%s: wrapped", d)
		got, err := decodeData(fuzzKey, []byte(data))
		require.NoError(t, err)
		assert.Equal(t, "a\x00b", got.History[0].In)
	}
}

// FuzzDecodeData feeds the data column's decoder arbitrary bytes: it never
// panics, refuses with convo.ErrCorrupt what it cannot read, and what it
// reads survives another encode and decode in every dialect.
func FuzzDecodeData(f *testing.F) {
	c := convo.NewConversation(fuzzKey)
	c.Count = 2
	c.History = []convo.Turn{{In: "hi\x00", Out: "ok"}}
	plain, _ := encodeData(SQLite, c)
	wrapped, _ := encodeData(PostgreSQL, c)
	f.Add([]byte(plain))
	f.Add([]byte(wrapped))
	f.Add([]byte(`{"v": 1, "to": "+15005550006", "from": "+14158675308", "count": 1}`))
	f.Add([]byte(`"{\"v\":1}"`))
	f.Add([]byte(`" {}"`))
	f.Add([]byte(`"`))
	f.Add([]byte(`{"v": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeData(fuzzKey, data)
		if err != nil {
			require.ErrorIs(t, err, convo.ErrCorrupt)
			return
		}
		require.Equal(t, fuzzKey, c.Key)
		for _, d := range []Dialect{SQLite, PostgreSQL, MySQL} {
			enc, err := encodeData(d, c)
			if err != nil {
				return // state that is not valid JSON cannot be re-encoded
			}
			if d == PostgreSQL {
				require.False(t, enc[0] == '{' && bytes.Contains([]byte(enc), nulEscape), "a NUL reached JSONB")
			}
			again, err := decodeData(fuzzKey, []byte(enc))
			require.NoError(t, err, "%s: %s", d, enc)
			assert.Equal(t, c.Count, again.Count)
			assert.Equal(t, c.History, again.History)
			assert.Equal(t, c.Handled, again.Handled)
		}
	})
}
