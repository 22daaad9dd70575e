package cookiestore

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var key = convo.Key{From: "+14158675308", To: "+15005550006"}

// encodeRecord encodes c as Save does, without trimming or compressing.
func encodeRecord(c *convo.Conversation, h header) []byte {
	return appendBody(appendHeader(nil, &h), c, c.History, h.savedAt.UnixMilli())
}

func decodeRecord(t testing.TB, b []byte) (*convo.Conversation, error) {
	h, body, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	return parseBody(&h, body, key)
}

func sampleConversation() (*convo.Conversation, header) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC)
	texts := []string{
		"Rey has messaged +15005550006 1 times",
		"</Message><Redirect>https://evil.example</Redirect> & more",
		"tab\there, cr\r, nul\x00, bad utf-8 \xff, ünïcødé 🎉",
		"two\nlines",
	}
	c := &convo.Conversation{Key: key, Version: 42, Count: 9, Started: now.Add(-time.Hour), LastActive: now,
		State: []byte(`{"step":2,"name":"Rey"}`)}
	for i, s := range texts {
		c.History = append(c.History, convo.Turn{At: now.Add(time.Duration(i-4) * time.Minute), In: "in " + s, Out: s})
	}
	multi := convo.Reply{Messages: []convo.Outgoing{{Body: "a"}, {Body: "pic", Media: []string{"https://example.com/a.png?x=1&y=2"}}}}
	c.Handled = []convo.Handled{
		{ID: "SM00000000000000000000000000000000", Reply: convo.Text("Rey has messaged +15005550006 0 times").TwiML()}, // kind 4 (format 2 on)
		{ID: "SM00000000000000000000000000000001", Reply: convo.Text(texts[0]).TwiML()},                                // kind 3
		{ID: "SM00000000000000000000000000000002", Reply: convo.Text(texts[1]).TwiML()},                                // kind 3, escaped
		{ID: "SM00000000000000000000000000000003", Reply: convo.Text(texts[2]).TwiML()},                                // kind 1: convo escapes more
		{ID: "SM00000000000000000000000000000004", Reply: convo.Reply{}.TwiML()},                                       // kind 2
		{ID: "SM00000000000000000000000000000005", Reply: multi.TwiML()},                                               // kind 1
		{ID: "idem-token", Reply: []byte("not TwiML at all")},                                                          // kind 0
		{ID: "", Reply: nil},
	}
	return c, header{version: 42, savedAt: now, expiresAt: now.Add(4 * time.Hour), started: c.Started, lastActive: c.LastActive}
}

// assertSampleDecoded checks that got, decoded from a record, holds every
// field of want, sampleConversation's conversation (version 42), its retry
// replies byte for byte.
func assertSampleDecoded(t *testing.T, want, got *convo.Conversation) {
	t.Helper()
	assert.Equal(t, want.Key, got.Key)
	assert.Equal(t, uint64(42), got.Version)
	assert.Equal(t, want.Count, got.Count)
	assert.Equal(t, want.Started, got.Started)
	assert.Equal(t, want.LastActive, got.LastActive)
	assert.Equal(t, want.History, got.History)
	assert.Equal(t, string(want.State), string(got.State))
	require.Len(t, got.Handled, len(want.Handled))
	for i := range want.Handled {
		assert.Equal(t, want.Handled[i].ID, got.Handled[i].ID)
		assert.Equal(t, string(want.Handled[i].Reply), string(got.Handled[i].Reply), "retry reply %d not byte for byte", i)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	c, h := sampleConversation()
	b := encodeRecord(c, h)
	got, err := decodeRecord(t, b)
	require.NoError(t, err)
	assertSampleDecoded(t, c, got)
	// Replies are abbreviated: the record is far smaller than the replies.
	replies := 0
	for _, hd := range c.Handled {
		replies += len(hd.Reply)
	}
	assert.Less(t, len(b), c.Size()-replies/2, "retry replies were not abbreviated")
}

func TestRecordAbbreviations(t *testing.T) {
	c, _ := sampleConversation()
	kinds := []byte{replyShared, replyTurn, replyTurn, replyMessage, replyEmpty, replyMessage, replyRaw}
	for i, want := range kinds {
		b := appendReply(nil, c.Handled[i].Reply, c.History, -1)
		assert.Equal(t, want, b[0], "record %d", i)
	}
}

func TestRecordLoadedSlicesAreIndependent(t *testing.T) {
	c, h := sampleConversation()
	b := encodeRecord(c, h)
	got, err := decodeRecord(t, b)
	require.NoError(t, err)
	got.State = append(got.State, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)
	got.Handled[0].Reply = append(got.Handled[0].Reply, "yyyyyyyyyyyyyyyyyy"...)
	again, err := decodeRecord(t, b)
	require.NoError(t, err)
	assert.Equal(t, string(c.State), string(again.State))
	assert.Equal(t, string(c.Handled[1].Reply), string(got.Handled[1].Reply), "appending to one slice overwrote the next")
}

func TestRecordCompressed(t *testing.T) {
	c, h := sampleConversation()
	plain := encodeRecord(c, h)
	hh := h
	hh.flags |= flagCompressed
	z := deflate(appendHeader(nil, &hh), plain[len(appendHeader(nil, &h)):])
	got, err := decodeRecord(t, z)
	require.NoError(t, err)
	assert.Equal(t, c.History, got.History)
}

func TestRecordRefusals(t *testing.T) {
	c, h := sampleConversation()
	good := encodeRecord(c, h)
	future := append([]byte(nil), good...)
	future[0] = formatVersion + 1
	badFlags := append([]byte(nil), good...)
	badFlags[1] = 0x80
	zeroVersion := append([]byte(nil), good...)
	copy(zeroVersion[2:10], make([]byte, 8))
	bomb := deflate(appendHeader(nil, &header{version: 1, flags: flagCompressed, savedAt: h.savedAt}), make([]byte, 2*maxBody))

	for name, b := range map[string][]byte{
		"empty":          nil,
		"future version": future,
		"unknown flags":  badFlags,
		"version 0":      zeroVersion,
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"inflates big":   bomb,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(t, b)
			require.Error(t, err)
		})
	}
	_, err := decodeRecord(t, future)
	assert.ErrorIs(t, err, errUnknownFormat)
}

// A cookie written by a later format version (a newer convo, rolled back)
// starts a fresh conversation and is logged, never an error.
func TestUnknownFormatStartsFresh(t *testing.T) {
	s, err := New(Options{Keys: []KeyPair{mustKeys(t)}})
	require.NoError(t, err)
	c, h := sampleConversation()
	b := encodeRecord(c, h)
	b[0] = formatVersion + 1
	value, err := s.codecs[0].Encode(s.macName(key), b)
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/sms", nil)
	req.Header.Set("Cookie", DefaultCookieName+"="+value)
	ctx := convo.WithExchange(context.Background(), &convo.Exchange{Request: req, Header: http.Header{}})
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Zero(t, got.Count)
	assert.Zero(t, got.Version)
}

func mustKeys(t testing.TB) KeyPair {
	p, err := GenerateKeyPair()
	require.NoError(t, err)
	return p
}

func TestEscapedPrefix(t *testing.T) {
	for _, tc := range []struct {
		b, s string
		want int
	}{
		{"", "", 0},
		{"abc", "abd", 2},
		{"a&amp;b", "a&b", 7},
		{"a&amp;c", "a&b", 6},
		{"a&am", "a&b", 4},   // within an entity
		{"a&xx", "a&b", 2},   // the entity differs
		{"a&b", "a&b", 2},    // unescaped: "a&" matches
		{"abcdef", "abc", 3}, // b is longer
	} {
		assert.Equal(t, tc.want, escapedPrefix([]byte(tc.b), tc.s), "%q vs %q", tc.b, tc.s)
	}
}

// Kind 4 (a prefix shared with a turn) round-trips wherever the shared
// prefix ends, an entity included, and format 1 records may not use it.
func TestRecordSharedPrefix(t *testing.T) {
	c, h := sampleConversation()
	c.History[0].Out = "R&D has <3> messages & more"
	for _, reply := range []string{"R&amp;D has &lt;3&gt; messages &amp; less", "R&amp;D has &lt;3&gt; mess", "R&amp;D has &lt;3&gt;xyz", "R&amp;D has &lt;3&gX"} {
		c.Handled[0].Reply = []byte(msgPrefix + reply + msgSuffix)
		b := encodeRecord(c, h)
		got, err := decodeRecord(t, b)
		require.NoError(t, err)
		assert.Equal(t, string(c.Handled[0].Reply), string(got.Handled[0].Reply))
		assert.Equal(t, byte(replyShared), appendReply(nil, c.Handled[0].Reply, c.History, 0)[0], "%q", reply)
	}
	b := encodeRecord(c, h)
	b[0] = 1
	_, err := decodeRecord(t, b)
	require.ErrorIs(t, err, errFormat, "format 1 has no kind 4")
}

func TestEscapedEqual(t *testing.T) {
	for _, tc := range []struct {
		b, s string
		want bool
	}{
		{"", "", true},
		{"a&amp;b", "a&b", true},
		{"&lt;&gt;", "<>", true},
		{"&lt;", "<>", false},
		{"a&b", "a&b", false},
		{"ab", "a", false},
		{"a", "ab", false},
		{"&amp", "&", false},
	} {
		assert.Equal(t, tc.want, escapedEqual([]byte(tc.b), tc.s), "%q vs %q", tc.b, tc.s)
		if tc.want {
			assert.Equal(t, tc.b, string(appendEscaped(nil, tc.s)))
		}
	}
}

// FuzzRecord feeds arbitrary plaintexts to the record decoder (what a
// cookie holds once its MAC passed): it must never panic, and whatever it
// accepts must encode back to a record that decodes the same.
func FuzzRecord(f *testing.F) {
	c, h := sampleConversation()
	f.Add(encodeRecord(c, h))
	f.Add(encodeRecord(&convo.Conversation{Key: key}, header{version: 1}))
	hh := h
	hh.flags |= flagCompressed
	f.Add(deflate(appendHeader(nil, &hh), encodeRecord(c, h)[len(appendHeader(nil, &h)):]))
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRecord(t, b)
		if err != nil {
			return
		}
		hd, _, err := parseHeader(b)
		require.NoError(t, err)
		hd.flags &^= flagCompressed
		again, err := decodeRecord(t, encodeRecord(got, hd))
		require.NoError(t, err, "a decoded record does not encode back")
		assert.Equal(t, got.Count, again.Count)
		assert.Equal(t, got.History, again.History)
		assert.Equal(t, got.Handled, again.Handled)
		assert.Equal(t, string(got.State), string(again.State))
	})
}
