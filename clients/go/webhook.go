package delayq

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Webhook is a verified callback from delayq.
type Webhook struct {
	TaskID    string // X-Delayq-Task-Id: de-duplicate on it (delivery is at-least-once)
	Topic     string
	Attempt   int   // X-Delayq-Attempt: 1, then +1 per retry
	DueAtMs   int64 // X-Delayq-Due-At
	Timestamp int64 // X-Delayq-Timestamp, unix seconds
	Body      []byte
}

// Verification errors (ErrBadSignature covers missing and malformed headers too).
var (
	ErrBadSignature = errors.New("delayq: webhook signature does not match")
	ErrStale        = errors.New("delayq: webhook timestamp outside the tolerance")
)

// VerifyWebhook checks X-Delayq-Signature (v1=hex HMAC-SHA256(key, timestamp "." body))
// in constant time and refuses a timestamp further than tolerance from now (replays).
func VerifyWebhook(key []byte, header http.Header, body []byte, tolerance time.Duration, now time.Time) (*Webhook, error) {
	tsText := header.Get("X-Delayq-Timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, ErrBadSignature
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(tsText))
	mac.Write([]byte("."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(header.Get("X-Delayq-Signature"))) {
		return nil, ErrBadSignature
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return nil, ErrStale
	}
	attempt, _ := strconv.Atoi(header.Get("X-Delayq-Attempt"))
	due, _ := strconv.ParseInt(header.Get("X-Delayq-Due-At"), 10, 64)
	return &Webhook{TaskID: header.Get("X-Delayq-Task-Id"), Topic: header.Get("X-Delayq-Topic"),
		Attempt: attempt, DueAtMs: due, Timestamp: ts, Body: body}, nil
}

// WebhookHandler is net/http middleware: it reads the body (at most maxBody bytes),
// verifies it, answers 401 to a bad or stale signature, and calls next with the webhook.
// next's status decides the outcome: 2xx completes the task, anything else retries it.
func WebhookHandler(key []byte, tolerance time.Duration, next func(http.ResponseWriter, *http.Request, *Webhook)) http.Handler {
	const maxBody = 8 << 20
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		hook, err := VerifyWebhook(key, r.Header, body, tolerance, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		next(w, r, hook)
	})
}
