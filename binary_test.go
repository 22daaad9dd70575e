package convo_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// msPrecision is goldenConversation with its times cut to milliseconds,
// the binary format's precision.
func msPrecision() *convo.Conversation {
	c := goldenConversation()
	ms := func(t time.Time) time.Time { return t.Truncate(time.Millisecond) }
	c.Started, c.LastActive = ms(c.Started), ms(c.LastActive)
	for i := range c.History {
		c.History[i].At = ms(c.History[i].At)
	}
	return c
}

func TestBinaryRoundTrip(t *testing.T) {
	tests := map[string]*convo.Conversation{
		"golden": msPrecision(),
		"fresh":  convo.NewConversation(convo.Key{From: "+1", To: "+2"}),
		"ended":  {Key: convo.Key{From: "a", To: "b"}, Ended: true, Handled: []convo.Handled{{ID: "x", Reply: convo.Text("bye").TwiML()}}},
		"raw replies": {Key: convo.Key{From: "a", To: "b"}, Count: 1, Handled: []convo.Handled{
			{ID: "1", Reply: convo.Reply{Messages: []convo.Outgoing{{Body: "a", Media: []string{"https://m"}}}}.TwiML()},
			{ID: "2", Reply: []byte("not TwiML at all")},
			{ID: "3", Reply: nil},
		}},
		"times before Started": {Key: convo.Key{From: "a", To: "b"}, Started: time.UnixMilli(5000).UTC(),
			LastActive: time.UnixMilli(4000).UTC(), History: []convo.Turn{{At: time.UnixMilli(5000).UTC()}, {}}},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := c.MarshalBinary()
			require.NoError(t, err)
			var got convo.Conversation
			require.NoError(t, got.UnmarshalBinary(data))
			if name == "raw replies" {
				c.Handled[2].Reply = []byte{} // nil and empty both come back empty
			}
			assert.Equal(t, c, &got)
		})
	}
}

func TestBinaryIsCompact(t *testing.T) {
	c := msPrecision()
	bin, _ := c.MarshalBinary()
	js, _ := convo.MarshalRecord(c)
	assert.Less(t, len(bin), len(js)*2/3, "binary %d bytes, JSON %d", len(bin), len(js))
}

func TestBinaryGolden(t *testing.T) {
	path := filepath.Join("testdata", "records", "v1.bin")
	if *updateGolden {
		data, _ := msPrecision().MarshalBinary()
		require.NoError(t, os.WriteFile(path, data, 0o644))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "records", "v*.bin"))
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var got convo.Conversation
		require.NoError(t, got.UnmarshalBinary(data), f)
		assert.Equal(t, msPrecision(), &got, f)
	}
}

func TestBinaryRefusals(t *testing.T) {
	data, _ := msPrecision().MarshalBinary()
	for i := range data {
		var c convo.Conversation
		assert.ErrorIs(t, c.UnmarshalBinary(data[:i]), convo.ErrCorrupt, "truncated at %d", i)
	}
	var c convo.Conversation
	future := append([]byte{convo.BinaryVersion + 1}, data[1:]...)
	err := c.UnmarshalBinary(future)
	require.ErrorIs(t, err, convo.ErrCorrupt)
	assert.ErrorContains(t, err, "newer")
	assert.ErrorIs(t, c.UnmarshalBinary(append(append([]byte{}, data...), 0)), convo.ErrCorrupt, "trailing byte")
	assert.Zero(t, c.Count, "a refused record changed the conversation")
}

func FuzzUnmarshalBinary(f *testing.F) {
	golden, _ := msPrecision().MarshalBinary()
	f.Add(golden)
	fresh, _ := convo.NewConversation(convo.Key{From: "a", To: "b"}).MarshalBinary()
	f.Add(fresh)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c convo.Conversation
		if err := c.UnmarshalBinary(data); err != nil {
			require.ErrorIs(t, err, convo.ErrCorrupt)
			return
		}
		again, _ := c.MarshalBinary()
		var c2 convo.Conversation
		require.NoError(t, c2.UnmarshalBinary(again))
		require.Equal(t, c.Key, c2.Key)
		require.Equal(t, c.Count, c2.Count)
		require.Equal(t, len(c.History), len(c2.History))
		for i := range c.Handled {
			require.Equal(t, string(c.Handled[i].Reply), string(c2.Handled[i].Reply))
		}
	})
}
