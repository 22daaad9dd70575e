package convo_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden records of the current format (never edit older ones)")

// goldenConversation is the conversation the current golden record holds.
func goldenConversation() *convo.Conversation {
	at := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	return &convo.Conversation{
		Key:        convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"},
		Count:      3,
		Started:    at,
		LastActive: at.Add(2 * time.Minute),
		History: []convo.Turn{
			{At: at, In: "hi <there> & ü", Out: "Rey has messaged whatsapp:+15005550006 1 times"},
			{At: at.Add(2 * time.Minute), In: "again\n", Out: ""},
		},
		State: []byte(`{"step":2,"answers":["red","blue"]}`),
		Handled: []convo.Handled{
			{ID: "SM00000000000000000000000000000001", Reply: convo.Text("Rey has messaged whatsapp:+15005550006 1 times").TwiML()},
			{ID: "SM00000000000000000000000000000002", Reply: convo.Reply{}.TwiML()},
		},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	c := goldenConversation()
	data, err := convo.MarshalRecord(c)
	require.NoError(t, err)
	got, err := convo.UnmarshalRecord(data)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	assert.Contains(t, string(data), `"v":1`)
	assert.Contains(t, string(data), `<Response>`, "records stay readable: no HTML escaping")
}

// Golden records of every format version ever written must keep loading.
func TestGoldenRecords(t *testing.T) {
	current := filepath.Join("testdata", "records", "v1.json")
	if *updateGolden {
		data, err := convo.MarshalRecord(goldenConversation())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(current, append(data, '\n'), 0o644))
	}
	files, err := filepath.Glob(filepath.Join("testdata", "records", "v*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			got, err := convo.UnmarshalRecord(data)
			require.NoError(t, err)
			assert.Equal(t, goldenConversation(), got)
		})
	}
}

func TestRecordRefusals(t *testing.T) {
	tests := map[string]string{
		"future version":  `{"v":2,"from":"a","to":"b","count":1}`,
		"no version":      `{"from":"a","to":"b","count":1}`,
		"zero version":    `{"v":0,"from":"a","to":"b","count":1}`,
		"not JSON":        `v=1`,
		"no key":          `{"v":1,"count":1}`,
		"negative count":  `{"v":1,"from":"a","to":"b","count":-1}`,
		"unknown field":   `{"v":1,"from":"a","to":"b","count":1,"extra":true}`,
		"wrong type":      `{"v":1,"from":"a","to":"b","count":"1"}`,
		"trailing object": `{"v":1,"from":"a","to":"b","count":1}{}`,
	}
	for name, rec := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := convo.UnmarshalRecord([]byte(rec))
			require.ErrorIs(t, err, convo.ErrCorrupt)
		})
	}
	_, err := convo.UnmarshalRecord([]byte(`{"v":7,"from":"a","to":"b"}`))
	assert.ErrorContains(t, err, "newer")
}

func FuzzUnmarshalRecord(f *testing.F) {
	golden, _ := convo.MarshalRecord(goldenConversation())
	f.Add(golden)
	f.Add([]byte(`{"v":1,"from":"a","to":"b","count":1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"from":"a","to":"b","count":1,"state":{"x":[1,2]},"handled":[{"id":"x","reply":"\u003c"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := convo.UnmarshalRecord(data)
		if err != nil {
			require.ErrorIs(t, err, convo.ErrCorrupt)
			return
		}
		again, err := convo.MarshalRecord(c)
		require.NoError(t, err)
		c2, err := convo.UnmarshalRecord(again)
		require.NoError(t, err)
		require.Equal(t, c.Count, c2.Count)
		require.Equal(t, c.Key, c2.Key)
		require.Equal(t, len(c.Handled), len(c2.Handled))
	})
}
