package stores

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
)

// The cookie store keeps each conversation in Twilio's cookie: no server
// state at all. Its keys come from CONVO_COOKIE_KEYS, pairs of base64
// HASH:BLOCK keys separated by commas, newest first (see
// cookiestore.ParseKeys). -dsn takes "" or "insecure", the latter for a
// webhook served over plain HTTP (the cookie then lacks Secure).
func init() {
	register("cookie", func(_ context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		opts := cookiestore.Options{Logger: log}
		switch dsn {
		case "":
		case "insecure":
			opts.Insecure = true
		default:
			return nil, nil, fmt.Errorf(`the cookie store takes -dsn "" or "insecure", not %q`, dsn)
		}
		if env := os.Getenv("CONVO_COOKIE_KEYS"); env != "" {
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
			log.Warn("CONVO_COOKIE_KEYS is not set: USING RANDOM COOKIE KEYS FOR THIS RUN ONLY. " +
				"Every conversation starts over when the server restarts, and servers of a fleet cannot read each other's cookies. " +
				`Set it to base64 HASH:BLOCK key pairs, newest first, such as CONVO_COOKIE_KEYS="$(openssl rand -base64 32):$(openssl rand -base64 32)"`)
		}
		s, err := cookiestore.New(opts)
		if err != nil {
			return nil, nil, err
		}
		return s, noClose{}, nil
	})
}

// noClose is the io.Closer of a store that holds nothing to close.
type noClose struct{}

func (noClose) Close() error { return nil }
