package stores

import (
	"context"
	"fmt"
	"io"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
)

func usageCookie(string) string {
	return "Twilio's cookie, signed and encrypted with the keys in CONVO_COOKIE_KEYS (-genkey makes a pair); no -dsn"
}

// openCookie opens the cookie store: no server state at all. Its keys come
// from CONVO_COOKIE_KEYS, base64 HASH:BLOCK pairs separated by commas,
// newest first (see cookiestore.ParseKeys); without it, keys made for this
// run only, with a warning.
func openCookie(_ context.Context, c config) (convo.Store, io.Closer, error) {
	if err := noDSN(c, "cookie"); err != nil {
		return nil, nil, err
	}
	opts := cookiestore.Options{Insecure: c.insecureCookie, Logger: c.log}
	if env := c.getenv("CONVO_COOKIE_KEYS"); env != "" {
		keys, err := cookiestore.ParseKeys(env)
		if err != nil {
			return nil, nil, fmt.Errorf("CONVO_COOKIE_KEYS: %w", err)
		}
		opts.Keys = keys
	} else {
		p, err := cookiestore.GenerateKeyPair()
		if err != nil {
			return nil, nil, err
		}
		opts.Keys = []cookiestore.KeyPair{p}
		c.log.Warn("CONVO_COOKIE_KEYS is not set: USING RANDOM COOKIE KEYS FOR THIS RUN ONLY. " +
			"Every conversation starts over when the server restarts, and servers of a fleet cannot read each other's cookies. " +
			"Make a key pair with -genkey and set CONVO_COOKIE_KEYS to it.")
	}
	if !c.insecureCookie {
		c.log.Info("the cookie store sets Secure cookies, which Twilio sends back over HTTPS only; " +
			"pass -insecure-cookie for a webhook served over plain HTTP")
	}
	s, err := cookiestore.New(opts)
	if err != nil {
		return nil, nil, err
	}
	return s, noClose{}, nil
}
