package convo_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMessage(t *testing.T) {
	full := url.Values{
		"MessageSid": {"SM1"}, "SmsSid": {"SM1"}, "SmsMessageSid": {"SM1"}, "AccountSid": {"AC1"},
		"MessagingServiceSid": {"MG1"}, "From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"},
		"NumMedia": {"1"}, "MediaUrl0": {"https://m/0"}, "MediaContentType0": {"image/png"},
		"NumSegments": {"2"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}, "FromCity": {"SF"},
	}
	m, err := convo.ParseMessage(full)
	require.NoError(t, err)
	assert.Equal(t, "SM1", m.MessageSID)
	assert.Equal(t, "AC1", m.AccountSID)
	assert.Equal(t, "MG1", m.MessagingServiceSID)
	assert.Equal(t, "hi", m.Body)
	assert.Equal(t, 2, m.NumSegments)
	assert.Equal(t, "sms", m.Channel)
	assert.Equal(t, []convo.Media{{URL: "https://m/0", ContentType: "image/png"}}, m.Media)
	assert.Equal(t, "SF", m.Params.Get("FromCity"), "every raw parameter stays reachable")
	assert.Equal(t, convo.Key{From: "+14158675308", To: "+15005550006"}, m.Key())

	tests := []struct {
		name    string
		form    url.Values
		channel string
		sid     string
		err     string
	}{
		{"whatsapp", url.Values{"From": {"whatsapp:+1"}, "To": {"whatsapp:+2"}}, "whatsapp", "", ""},
		{"messenger", url.Values{"From": {"messenger:123"}, "To": {"messenger:456"}}, "messenger", "", ""},
		{"empty prefix", url.Values{"From": {":+1"}, "To": {"+2"}}, "sms", "", ""},
		{"legacy SmsMessageSid", url.Values{"From": {"+1"}, "To": {"+2"}, "SmsMessageSid": {"SM9"}}, "sms", "SM9", ""},
		{"legacy SmsSid", url.Values{"From": {"+1"}, "To": {"+2"}, "SmsSid": {"SM8"}}, "sms", "SM8", ""},
		{"no From", url.Values{"To": {"+2"}}, "", "", "From or To is missing"},
		{"empty To", url.Values{"From": {"+1"}, "To": {""}}, "", "", "From or To is missing"},
		{"From too long", url.Values{"From": {strings.Repeat("1", convo.MaxAddressLen+1)}, "To": {"+2"}}, "", "", "longer than 256"},
		{"To at the limit", url.Values{"From": {"+1"}, "To": {strings.Repeat("1", convo.MaxAddressLen)}}, "sms", "", ""},
		{"NumMedia too big", url.Values{"From": {"+1"}, "To": {"+2"}, "NumMedia": {"11"}}, "", "", "NumMedia"},
		{"NumMedia negative", url.Values{"From": {"+1"}, "To": {"+2"}, "NumMedia": {"-1"}}, "", "", "NumMedia"},
		{"NumMedia not a number", url.Values{"From": {"+1"}, "To": {"+2"}, "NumMedia": {"two"}}, "", "", "NumMedia"},
		{"media URL missing", url.Values{"From": {"+1"}, "To": {"+2"}, "NumMedia": {"2"}, "MediaUrl0": {"u"}}, "", "", "MediaUrl1"},
		{"NumSegments bad", url.Values{"From": {"+1"}, "To": {"+2"}, "NumSegments": {"x"}}, "", "", "NumSegments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := convo.ParseMessage(tt.form)
			if tt.err != "" {
				require.ErrorIs(t, err, convo.ErrMalformed)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.channel, m.Channel)
			assert.Equal(t, tt.sid, m.MessageSID)
		})
	}
}

func TestKeyString(t *testing.T) {
	assert.Equal(t, "+14158675308/+15005550006", convo.Key{From: "+14158675308", To: "+15005550006"}.String())
	assert.Equal(t, "whatsapp:+1/a%2Fb", convo.Key{From: "whatsapp:+1", To: "a/b"}.String())
	assert.NotEqual(t, convo.Key{From: "a/b", To: "c"}.String(), convo.Key{From: "a", To: "b/c"}.String(), "String is injective")
}

func TestRedact(t *testing.T) {
	assert.Equal(t, "…5308", convo.Redact("+14158675308"))
	assert.Equal(t, "whatsapp:…5308", convo.Redact("whatsapp:+14158675308"))
	assert.Equal(t, "…", convo.Redact("123"))
	assert.Equal(t, "…5308/…0006", convo.Key{From: "+14158675308", To: "+15005550006"}.Redacted())
}

func FuzzParseMessage(f *testing.F) {
	f.Add("From=%2B14158675308&To=%2B15005550006&Body=hi&MessageSid=SM1")
	f.Add("From=whatsapp%3A%2B1&To=whatsapp%3A%2B2&NumMedia=2&MediaUrl0=a&MediaUrl1=b&ProfileName=Rey&WaId=1")
	f.Add("From=a&To=b&NumMedia=10&NumSegments=1024")
	f.Add("From=&To=&From=x")
	f.Add("%zz=1")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		m, err := convo.ParseMessage(form)
		if err != nil {
			require.ErrorIs(t, err, convo.ErrMalformed)
			return
		}
		require.NotEmpty(t, m.From)
		require.NotEmpty(t, m.To)
		require.LessOrEqual(t, len(m.Media), convo.MaxMedia)
		require.GreaterOrEqual(t, m.NumSegments, 0)
		require.NotEmpty(t, m.Channel)
		require.False(t, strings.Contains(m.Channel, ":"))
		require.LessOrEqual(t, len(m.From), convo.MaxAddressLen)
		require.LessOrEqual(t, len(m.To), convo.MaxAddressLen)
		require.Contains(t, []convo.OptOut{"", convo.OptOutStop, convo.OptOutStart, convo.OptOutHelp}, m.OptOut, "an OptOutType Twilio does not send")
	})
}

func TestUnsupportedMediaType(t *testing.T) {
	f := newFixture(t, nil)
	req := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(`{"From":"+1"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
}

// FuzzParseForm: the Handler's form parser gives what url.ParseQuery gives,
// and fails where it fails.
func FuzzParseForm(f *testing.F) {
	f.Add("From=%2B14158675308&To=%2B15005550006&Body=Hello+there&MessageSid=SM1")
	f.Add("a=1&a=2&b&=c&&d=%zz")
	f.Add("a=1;b=2")
	f.Add("k=%E2%82%AC&k=&k")
	f.Fuzz(func(t *testing.T, body string) {
		want, wantErr := url.ParseQuery(body)
		got, err := convo.ParseForm([]byte(body))
		if wantErr != nil || strings.Count(body, "&") >= 1000 {
			require.Error(t, err, "url.ParseQuery fails with %v", wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
