package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/smsconvo/convo/convotest"
	"github.com/stretchr/testify/require"
)

var screenshot = flag.String("screenshot", "", "TestBrowserScreenshot writes a PNG of the page to this file")

// chromium finds a Chromium or Chrome binary (see findChromium). Without
// one the test skips, unless CI is set: CI must run the browser tests.
func chromium(t *testing.T) string {
	t.Helper()
	if p := findChromium(os.Getenv("CHROMIUM"), exec.LookPath); p != "" {
		return p
	}
	msg := "no Chromium found (tried $CHROMIUM, /usr/bin/chromium and chromium, chromium-browser, google-chrome on PATH); install Debian's chromium package to run the browser tests"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails)")
	}
	t.Skip(msg)
	return ""
}

// findChromium returns the first executable of: explicit (from $CHROMIUM),
// Debian's /usr/bin/chromium, and the usual names found by lookPath; ""
// when there is none.
func findChromium(explicit string, lookPath func(string) (string, error)) string {
	candidates := []string{explicit, "/usr/bin/chromium"}
	if explicit != "" {
		candidates = candidates[:1] // asked for that one: no other
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := lookPath(name); err == nil && explicit == "" {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func TestFindChromium(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	dir := t.TempDir()
	fake := filepath.Join(dir, "chromium")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755))
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, nil, 0o644))

	require.Equal(t, fake, findChromium(fake, none), "$CHROMIUM wins")
	require.Empty(t, findChromium(plain, none), "not executable")
	require.Empty(t, findChromium(filepath.Join(dir, "missing"), none), "$CHROMIUM names a missing file: nothing else is tried")
	onPath := func(name string) (string, error) {
		if name == "chromium-browser" {
			return fake, nil
		}
		return "", exec.ErrNotFound
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		require.Equal(t, fake, findChromium("", onPath), "found on PATH")
		require.Empty(t, findChromium("", none))
	} else {
		require.Equal(t, "/usr/bin/chromium", findChromium("", onPath), "Debian's path first")
	}
}

// browser starts a headless Chromium with a fresh profile and returns a
// context for chromedp actions, bounded to a minute.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// The first call starts the browser, which lives as long as its
	// context: no timeout on that one, a minute for the test's actions.
	require.NoError(t, chromedp.Do(bctx), "starting Chromium")
	ctx, cancelTimeout := context.WithTimeout(bctx, time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// page is the dev phone open in a browser.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) run(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, steps...))
}

// get runs one action of the page and returns its value.
func get[T any](p page, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	require.NoError(p.t, err)
	return v
}

// waitFor polls the page until the JavaScript expression is true.
func (p page) waitFor(expr string) {
	p.t.Helper()
	get(p, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
}

const idle = `document.body.dataset.busy !== "true"`

// count returns how many elements match the CSS selector.
func (p page) count(selector string) int {
	p.t.Helper()
	return get(p, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)))
}

// lastReply returns the text of the thread's latest reply.
func (p page) lastReply() string {
	p.t.Helper()
	return get(p, chromedp.Evaluate[string](`(() => { const r = document.querySelectorAll("#thread .reply .text"); return r.length ? r[r.length-1].textContent : ""; })()`))
}

// text types a message and sends it, waiting for its answer.
func (p page) text(body string) {
	p.t.Helper()
	n := p.count("#thread .msg.out")
	p.run(chromedp.SetValue(chromedp.CSS("#body"), body), chromedp.Click(chromedp.CSS("#send")))
	p.waitFor(fmt.Sprintf(`document.querySelectorAll("#thread .msg.out").length === %d && %s`, n+1, idle))
}

// click presses a button and waits for the page to settle.
func (p page) click(selector string) {
	p.t.Helper()
	p.run(chromedp.Click(chromedp.CSS(selector)))
	p.waitFor(idle)
}

func openPage(t *testing.T, url string, width, height int) page {
	t.Helper()
	p := page{t: t, ctx: browser(t, width, height)}
	p.run(chromedp.Navigate(url))
	p.waitFor(`document.body.dataset.ready === "true"`)
	return p
}

// TestBrowser drives the page in headless Chromium against the counter
// example's handler, both sides on one convotest.Clock, so that a jump of
// four hours ends the server's conversation as it ends Twilio's cookie.
func TestBrowser(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	base := devphone(t, Options{Webhook: counterServer(t, clock, "s3cret"), AuthToken: "s3cret", Clock: clock})
	p := openPage(t, base, 1280, 800)

	p.run(chromedp.Click(chromedp.CSS(`button.preset[title="+14158675308"]`)))
	from := get(p, chromedp.Value(chromedp.CSS("#from")))
	to := get(p, chromedp.Value(chromedp.CSS("#to")))
	signed := get(p, chromedp.Text(chromedp.CSS("#signed")))
	require.Equal(t, rey, from)
	require.Equal(t, DefaultTo, to)
	require.Equal(t, "signed", signed)

	for i := 1; i <= 3; i++ {
		p.text(fmt.Sprintf("hello %d", i))
		require.Equal(t, fmt.Sprintf("Rey has messaged +15005550006 %d times", i), p.lastReply())
	}

	p.click("#retry")
	require.Equal(t, 1, p.count("#thread .msg.out.retry"))
	require.Equal(t, 4, p.count("#thread .reply"))
	require.Equal(t, "Rey has messaged +15005550006 3 times", p.lastReply(), "a retry must not move the count")

	p.click("#jump-4h")
	require.Equal(t, 1, p.count("#thread .note"))
	p.text("back again")
	require.Equal(t, "Rey has messaged +15005550006 1 times", p.lastReply(), "four hours later the count restarts")
	require.Zero(t, p.count("#thread .error"))

	// The thread list holds the pair; another From starts its own thread.
	pairs := get(p, chromedp.Text(chromedp.CSS("#pairs")))
	require.Contains(t, pairs, "Rey +14158675308 → +15005550006")
	p.run(chromedp.Click(chromedp.CSS(`button.preset[title="+12349013030"]`)))
	p.waitFor(`document.querySelectorAll("#thread .msg").length === 0`)
	p.text("hi")
	require.Equal(t, "Finn has messaged +15005550006 1 times", p.lastReply())
}

// TestBrowserErrors checks that a failing webhook shows in the thread with
// its HTTP status.
func TestBrowserErrors(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	base := devphone(t, Options{Webhook: counterServer(t, clock, "s3cret"), AuthToken: "wrong", Clock: clock})
	p := openPage(t, base, 1280, 800)
	p.text("hi")
	msg := get(p, chromedp.Text(chromedp.CSS("#thread .error")))
	require.Contains(t, msg, "HTTP 403 Forbidden (Twilio error 11200)")
}

// sessionCookie sets a session cookie on every answer, as the seed's PHP
// example does with PHPSESSID, so that the screenshot's cookie panel has
// a cookie to show.
func sessionCookie(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if c, err := r.Cookie("PHPSESSID"); err == nil {
			id = c.Value
		} else {
			var b [13]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		http.SetCookie(w, &http.Cookie{Name: "PHPSESSID", Value: id, Path: "/"})
		h.ServeHTTP(w, r)
	})
}

// TestBrowserScreenshot writes docs/devphone.png when asked:
//
//	go test ./examples/devphone -run TestBrowserScreenshot -args -screenshot=$PWD/docs/devphone.png
func TestBrowserScreenshot(t *testing.T) {
	if *screenshot == "" {
		t.Skip("give -screenshot=FILE to write a screenshot of the page")
	}
	clock := convotest.NewClock(time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC))
	h, closer, err := counterHandler("", clock.Now, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { closer.Close() })
	mux := http.NewServeMux()
	mux.Handle("POST /sms", sessionCookie(h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := devphone(t, Options{Webhook: srv.URL + "/sms", Clock: clock})
	p := openPage(t, base, 1360, 1100)

	p.run(chromedp.Click(chromedp.CSS(`button.preset[title="+12348134522"]`)))
	p.text("rrraaargh")
	p.run(chromedp.Click(chromedp.CSS(`button.preset[title="+14158675308"]`)))
	p.waitFor(`document.querySelectorAll("#thread .msg").length === 0`)
	p.text("Hello there")
	p.text("Is anyone at the base?")
	p.click("#retry")
	p.click("#jump-4h")
	p.run(chromedp.SetValue(chromedp.CSS("#media"), "https://example.com/bb8.jpg"))
	p.text("Back after four hours, with a photo")
	p.run(chromedp.SetValue(chromedp.CSS("#burst-n"), "2"))
	p.click("#burst")

	png := get(p, chromedp.FullScreenshot(100))
	require.NoError(t, os.MkdirAll(filepath.Dir(*screenshot), 0o755))
	require.NoError(t, os.WriteFile(*screenshot, png, 0o644))
	t.Logf("wrote %s (%d bytes)", *screenshot, len(png))
}

// TestBrowserRepliesAndCookie checks how the page shows media, redirects
// and message attributes, and the cookie panel through a jump of the clock.
func TestBrowserRepliesAndCookie(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	wh := newWebhook(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "convo", Value: "abc123", Path: "/", MaxAge: 2 * 3600})
		twiml(`<Response><Message to="+15550001111"><Body>see &lt;this&gt;</Body><Media>https://example.com/pic.png</Media></Message>`+
			`<Redirect method="GET">https://example.com/more</Redirect></Response>`)(w, r)
	})
	base := devphone(t, Options{Webhook: wh.url, Clock: clock})
	p := openPage(t, base, 1280, 800)
	p.run(chromedp.SetValue(chromedp.CSS("#media"), "https://example.com/a.pdf, https://example.com/b.jpg"))
	p.text("with media")

	require.Equal(t, "see <this>", p.lastReply())
	require.Equal(t, 2, p.count("#thread .msg.out .media a"), "the message's media are shown")
	require.Equal(t, 1, p.count("#thread .reply .media a[href='https://example.com/pic.png']"))
	reply := get(p, chromedp.Text(chromedp.CSS("#thread .reply .meta")))
	require.Equal(t, `<Message to="+15550001111">`, reply)
	redirect := get(p, chromedp.Text(chromedp.CSS("#thread .redirect")))
	require.Contains(t, redirect, "Twilio would GET https://example.com/more")

	cookie := get(p, chromedp.Text(chromedp.CSS("#cookies")))
	require.Contains(t, cookie, "convo")
	require.Contains(t, cookie, "abc123")
	require.Contains(t, cookie, fmt.Sprintf("%d of 4096 bytes (Set-Cookie line)", len("Set-Cookie: convo=abc123; Path=/; Max-Age=7200")))
	require.Contains(t, cookie, "in 2h", "a Max-Age under 4 hours is honoured")

	p.click("#jump-1h")
	require.Contains(t, get(p, chromedp.Text(chromedp.CSS("#cookies"))), "in 1h")
	p.click("#jump-1h")
	cookie = get(p, chromedp.Text(chromedp.CSS("#cookies")))
	require.Contains(t, cookie, "No cookie held for this pair.")
	require.Contains(t, cookie, "Cookie convo has expired or was deleted")
	require.Equal(t, 2, p.count("#thread .note"))
	forms, _ := wh.requests()
	require.Len(t, forms, 1)
	require.Equal(t, "2", forms[0].Get("NumMedia"))
}
