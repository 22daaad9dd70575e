package convo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var recKey = Key{From: "+14158675308", To: "+15005550006"}

func sampleConversation(retries int) *Conversation {
	at := time.Date(2026, 12, 2, 8, 24, 17, 123e6, time.UTC)
	c := &Conversation{Key: recKey, Count: 7, Started: at.Add(-time.Hour), LastActive: at,
		State: json.RawMessage(`{"step":2,"name":"Rey \"R\" <b>"}`)}
	for i := range 4 {
		c.History = append(c.History, Turn{At: at.Add(time.Duration(i) * time.Second), In: "hello there", Out: "Rey has messaged +15005550006 7 times"})
	}
	for i := range retries {
		c.retries = append(c.retries, retryRecord{ID: "SM0123456789abcdef0123456789abcde" + string(rune('a'+i%26)), At: at,
			Response: strings.TrimPrefix(string(Text("Rey has messaged +15005550006 7 times").TwiML()), xmlHeader)})
	}
	return c
}

func TestRecordRoundTrip(t *testing.T) {
	tests := map[string]*Conversation{
		"fresh":  {Key: recKey},
		"sample": sampleConversation(3),
		"ended":  {Key: recKey, ended: true, retries: sampleConversation(1).retries},
		"escapes": {Key: recKey, Count: 1, History: []Turn{{In: "a\"b\\c\n\t\x00\x1f é 🎉 \u2028 </Message>", Out: "\xff\xfe bad"}},
			State: json.RawMessage(`"just a string"`)},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := appendRecord(nil, c)
			require.NoError(t, err)
			require.True(t, json.Valid(data), "not JSON: %s", data)
			got, err := decodeRecord(recKey, data)
			require.NoError(t, err)
			want := *c
			for i := range want.History { // invalid UTF-8 is replaced, as encoding/json does
				want.History[i].In = strings.ToValidUTF8(want.History[i].In, "\uFFFD")
				want.History[i].Out = strings.ToValidUTF8(want.History[i].Out, "\uFFFD\uFFFD")
			}
			assertSameConversation(t, &want, got)
		})
	}
}

func assertSameConversation(t *testing.T, want, got *Conversation) {
	t.Helper()
	assert.Equal(t, want.Key, got.Key)
	assert.Equal(t, want.Count, got.Count)
	assert.True(t, want.Started.Equal(got.Started), "Started %v, want %v", got.Started, want.Started)
	assert.True(t, want.LastActive.Equal(got.LastActive), "LastActive")
	require.Len(t, got.History, len(want.History))
	for i := range want.History {
		assert.Equal(t, want.History[i].In, got.History[i].In)
		assert.Equal(t, want.History[i].Out, got.History[i].Out)
		assert.True(t, want.History[i].At.Equal(got.History[i].At), "History[%d].At", i)
	}
	assert.JSONEq(t, orNull(want.State), orNull(got.State))
	require.Len(t, got.retries, len(want.retries))
	for i := range want.retries {
		assert.Equal(t, want.retries[i].ID, got.retries[i].ID)
		assert.Equal(t, want.retries[i].Response, got.retries[i].Response)
		assert.True(t, want.retries[i].At.Equal(got.retries[i].At))
	}
	assert.Equal(t, want.ended, got.ended)
}

func orNull(b []byte) string {
	if len(b) == 0 {
		return "null"
	}
	return string(b)
}

func TestRecordRefused(t *testing.T) {
	for name, data := range map[string]string{
		"empty":          ``,
		"not an object":  `[]`,
		"no version":     `{"count":1}`,
		"older version":  `{"v":1,"count":1}`,
		"newer version":  `{"v":3}`,
		"unknown field":  `{"v":2,"extra":1}`,
		"negative count": `{"v":2,"count":-1}`,
		"null state":     `{"v":2,"state":null}`,
		"bad time":       `{"v":2,"started":"yesterday"}`,
		"trailing data":  `{"v":2} {}`,
		"bad turn":       `{"v":2,"history":[{"at":"2026-01-01T00:00:00Z","x":1}]}`,
		"unterminated":   `{"v":2,"history":[{"in":"abc`,
		"bad escape":     `{"v":2,"history":[{"in":"\q"}]}`,
		"bad state":      `{"v":2,"state":{"a":}}`,
	} {
		_, err := decodeRecord(recKey, []byte(data))
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// TestRecordReformatted: a record an operator or PostgreSQL's JSONB wrote
// back, with other spacing and field order, still decodes.
func TestRecordReformatted(t *testing.T) {
	c := sampleConversation(2)
	data, err := appendRecord(nil, c)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(data, &generic))
	pretty, err := json.MarshalIndent(generic, "", "  ") // keys sorted, spaced
	require.NoError(t, err)
	got, err := decodeRecord(recKey, pretty)
	require.NoError(t, err)
	assertSameConversation(t, c, got)
}

// jsonRecord is the record's schema for encoding/json, the reference the
// fuzz target compares the hand-written decoder with.
type jsonRecord struct {
	V          int             `json:"v"`
	Count      int             `json:"count"`
	Started    *int64          `json:"started"`
	LastActive *int64          `json:"last_active"`
	History    []jsonTurn      `json:"history"`
	State      json.RawMessage `json:"state"`
	Retries    []jsonRetry     `json:"retries"`
	Ended      bool            `json:"ended"`
}

type jsonTurn struct {
	At  *int64 `json:"at"`
	In  string `json:"in"`
	Out string `json:"out"`
}

type jsonRetry struct {
	ID       string `json:"id"`
	At       *int64 `json:"at"`
	Response string `json:"response"`
}

// ms is the time of a record's field in Unix milliseconds; none is zero.
func ms(p *int64) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.UnixMilli(*p)
}

// FuzzRecord checks the hand-written codec against encoding/json: a record
// it decodes, encoding/json decodes to the same conversation; and what it
// encodes, both decode back to the original.
func FuzzRecord(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		data, _ := appendRecord(nil, sampleConversation(n))
		f.Add(data)
	}
	f.Add([]byte(`{"v":2,"count":1,"history":[{"in":"\ud83c\udf89 \ud800 \u00e9\\\/\"","out":""}],"state":[1,{"a":"}"}]}`))
	f.Add([]byte(` { "v" : 2 , "ended" : true , "retries" : [ { "id" : "SM1" , "response" : "<x/>" } ] } `))
	f.Add([]byte(`{"v":2,"state":12.5e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeRecord(recKey, data)
		if err != nil {
			return
		}
		var ref jsonRecord
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&ref), "encoding/json refuses a record decodeRecord accepts")
		require.Equal(t, recordVersion, ref.V)
		want := &Conversation{Key: recKey, Count: ref.Count, Started: ms(ref.Started), LastActive: ms(ref.LastActive), State: ref.State, ended: ref.Ended}
		for _, turn := range ref.History {
			want.History = append(want.History, Turn{At: ms(turn.At), In: turn.In, Out: turn.Out})
		}
		for _, r := range ref.Retries {
			want.retries = append(want.retries, retryRecord{ID: r.ID, At: ms(r.At), Response: r.Response})
		}
		assertSameConversation(t, want, got)

		again, err := appendRecord(nil, got)
		require.NoError(t, err)
		back, err := decodeRecord(recKey, again)
		require.NoError(t, err, "decodeRecord refuses what appendRecord wrote: %s", again)
		got.Started, got.LastActive = got.Started.Truncate(time.Millisecond), got.LastActive.Truncate(time.Millisecond)
		for i := range got.History {
			got.History[i].At = got.History[i].At.Truncate(time.Millisecond)
		}
		for i := range got.retries {
			got.retries[i].At = got.retries[i].At.Truncate(time.Millisecond)
		}
		assertSameConversation(t, got, back)
	})
}

func BenchmarkRecord(b *testing.B) {
	for _, retries := range []int{1, 6} {
		c := sampleConversation(retries)
		data, _ := appendRecord(nil, c)
		b.Run("convo/retries="+string(rune('0'+retries)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, _ := encodeRecord(c)
				_, _ = decodeRecord(recKey, d)
			}
		})
		b.Run("encoding-json/retries="+string(rune('0'+retries)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r jsonRecord
				_ = json.Unmarshal(data, &r)
				_, _ = json.Marshal(&r)
			}
		})
	}
}
