package main

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// logRequests logs one line per request: method, route pattern, status,
// bytes and duration. It logs the mux's pattern ("GET
// /api/conversations/{from}/{to}"), not the path, so that phone numbers in
// paths stay out of the log; requests no route matched log their path.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern // set by the ServeMux on this very request
			if route == "" {
				route = r.Method + " " + r.URL.Path + " (no route)"
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("route", route), slog.Int("status", sw.code()), slog.Int64("bytes", sw.bytes),
				slog.String("duration", time.Since(start).String()), slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverPanics turns a panic in next into a 500 and a log line with the
// stack, so one bad request cannot take the service down. (convo's Handler
// already recovers panics of reply functions; this covers every route.)
// http.ErrAbortHandler is re-panicked: it is net/http's way to abort a
// response on purpose.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.LogAttrs(r.Context(), slog.LevelError, "panic serving a request",
				slog.String("route", r.Pattern), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
