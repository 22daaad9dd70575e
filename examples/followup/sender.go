package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// TwilioSender sends messages with twilio-go's REST client
// (Api.CreateMessage): a POST to /2010-04-01/Accounts/{sid}/Messages.json.
type TwilioSender struct {
	rest *twilio.RestClient
}

// RESTTimeout bounds one REST call. twilio-go takes no context, so this
// timeout of its http.Client is what bounds the call.
const RESTTimeout = 15 * time.Second

// NewTwilioSender returns a sender for the account accountSID, authenticated
// with authToken, sending its requests with hc; nil hc means a client with
// RESTTimeout that does not follow redirects, as twilio-go's own. Tests pass
// a client whose Transport sends the requests to a local fake of the API.
func NewTwilioSender(accountSID, authToken string, hc *http.Client) *TwilioSender {
	if hc == nil {
		hc = &http.Client{
			Timeout:       RESTTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	c := &client.Client{Credentials: client.NewCredentials(accountSID, authToken), HTTPClient: hc}
	c.SetAccountSid(accountSID)
	return &TwilioSender{rest: twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})}
}

// Send sends body from from to to and returns the message's SID. ctx is
// checked before the call; the call itself is bounded by the HTTP client's
// timeout.
func (s *TwilioSender) Send(ctx context.Context, to, from, body string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	params := &openapi.CreateMessageParams{}
	params.SetTo(to).SetFrom(from).SetBody(body)
	msg, err := s.rest.Api.CreateMessage(params)
	if err != nil {
		return "", err
	}
	if msg.Sid == nil {
		return "", errors.New("twilio: the created message has no sid")
	}
	return *msg.Sid, nil
}
