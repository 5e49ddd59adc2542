// Package delayq is the Go client of the delayq delay-queue server: adds, reads, cancels,
// leases (pull, ack, nack, extend, batch ack and nack), schedules, a Consumer loop and a
// webhook receiver helper.
// Standard library only.
package delayq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the delayq release this client is versioned with.
const Version = "0.1.0"

// Client talks to one delayq server. Safe for concurrent use.
type Client struct {
	base     string
	token    string
	http     *http.Client
	retries  int
	backoff  time.Duration
	maxDelay time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends `Authorization: Bearer <token>` with every call.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithTimeout bounds each HTTP attempt (default 40 s, above the longest long poll).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.http.Timeout = d } }

// WithHTTPClient replaces the HTTP client (its Timeout is used as is).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetries sets how often a call refused with 429 or 503 is repeated (default 3), with
// exponential backoff from `base` (default 100 ms, doubling, with jitter, at most 5 s).
// Only calls that are safe to repeat are retried: everything except adds without a
// dedup key, seed adds and schedule triggers, whose outcome after a 503 may be unknown.
func WithRetries(n int, base time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, base }
}

// New returns a client of the server at baseURL, e.g. "http://127.0.0.1:7700".
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base:     strings.TrimRight(baseURL, "/"),
		http:     &http.Client{Timeout: 40 * time.Second},
		retries:  3,
		backoff:  100 * time.Millisecond,
		maxDelay: 5 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// --- Errors ------------------------------------------------------------------------------

// Sentinel errors; match with errors.Is(err, delayq.ErrNotFound).
var (
	ErrInvalid      = errors.New("delayq: invalid request") // 400, 405, 413
	ErrNotFound     = errors.New("delayq: not found")       // 404
	ErrConflict     = errors.New("delayq: conflict")        // 409: stale lease, wrong state
	ErrUnauthorized = errors.New("delayq: unauthorized")    // 401, 403
	ErrOverloaded   = errors.New("delayq: overloaded")      // 429, 503
	ErrServer       = errors.New("delayq: server error")    // other 5xx
)

// Error is an error answer of the server: its HTTP status, dm_error and message.
type Error struct {
	Status    int
	Code      int    // dm_error
	Message   string // the server's error_msg
	RequestID string
	kind      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("delayq: HTTP %d (dm_error %d): %s", e.Status, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) and friends work.
func (e *Error) Is(target error) bool { return e.kind == target }

func kindOf(status int) error {
	switch {
	case status == 404:
		return ErrNotFound
	case status == 409:
		return ErrConflict
	case status == 401 || status == 403:
		return ErrUnauthorized
	case status == 429 || status == 503:
		return ErrOverloaded
	case status >= 500:
		return ErrServer
	default:
		return ErrInvalid
	}
}

// --- Transport ---------------------------------------------------------------------------

func (c *Client) do(ctx context.Context, method, path string, body any, retry bool, out any) (int, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		status, err := c.once(ctx, method, path, payload, out)
		var apiErr *Error
		if err == nil || !retry || attempt >= c.retries || !errors.As(err, &apiErr) ||
			(apiErr.Status != 429 && apiErr.Status != 503) {
			return status, err
		}
		wait := delay/2 + time.Duration(time.Now().UnixNano()%int64(delay/2+1))
		select {
		case <-ctx.Done():
			return status, err
		case <-time.After(wait):
		}
		if delay *= 2; delay > c.maxDelay {
			delay = c.maxDelay
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any) (int, error) {
	var reader io.Reader
	if payload != nil {
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return 0, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	setTraceHeaders(ctx, req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
			kind: kindOf(resp.StatusCode)}
		var shape struct {
			DmError  int    `json:"dm_error"`
			ErrorMsg string `json:"error_msg"`
		}
		if json.Unmarshal(data, &shape) == nil {
			e.Code, e.Message = shape.DmError, shape.ErrorMsg
		} else {
			e.Message = string(data)
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("delayq: undecodable answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// --- Tasks -------------------------------------------------------------------------------

// Callback makes a task a callback task: delayq calls URL (or Service + Path) when due.
type Callback struct {
	URL       string            `json:"url,omitempty"`
	Service   string            `json:"service,omitempty"`
	Path      string            `json:"path,omitempty"`
	Method    string            `json:"method,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	TimeoutMs int64             `json:"timeout_ms,omitempty"`
}

// NewTask is one task to add. Give at most one of Delay, At.
type NewTask struct {
	Payload     any // any JSON-encodable value; a string is stored byte for byte
	Delay       time.Duration
	At          time.Time
	Callback    *Callback
	MaxAttempts int
	DedupKey    string
	// Traceparent (and Tracestate): this task's own W3C trace context, replacing the one of
	// WithTraceContext (in a batch, tasks of different traces can share one call).
	Traceparent string
	Tracestate  string
}

func (t NewTask) body() map[string]any {
	b := map[string]any{"payload": t.Payload}
	if t.Payload == nil {
		b["payload"] = nil
	}
	if t.Delay > 0 {
		b["delay_ms"] = t.Delay.Milliseconds()
	}
	if !t.At.IsZero() {
		b["at_ms"] = t.At.UnixMilli()
	}
	if t.Callback != nil {
		b["callback"] = t.Callback
	}
	if t.MaxAttempts > 0 {
		b["max_attempts"] = t.MaxAttempts
	}
	if t.DedupKey != "" {
		b["dedup_key"] = t.DedupKey
	}
	if t.Traceparent != "" {
		b["traceparent"] = t.Traceparent
		if t.Tracestate != "" {
			b["tracestate"] = t.Tracestate
		}
	}
	return b
}

// Added is the answer to an add.
type Added struct {
	ID        string `json:"id"`
	DueAtMs   int64  `json:"due_at_ms"`
	Duplicate bool   `json:"duplicate"` // the dedup key was held: ID is the existing task's
}

// Task is the server's task object.
type Task struct {
	ID           string          `json:"id"`
	Topic        string          `json:"topic"`
	State        string          `json:"state"`
	Kind         string          `json:"kind"`
	DueAtMs      int64           `json:"due_at_ms"`
	CreatedAtMs  int64           `json:"created_at_ms"`
	Attempts     int             `json:"attempts"`
	MaxAttempts  int             `json:"max_attempts"`
	LastError    *string         `json:"last_error"`
	FinishedAtMs int64           `json:"finished_at_ms,omitempty"`
	LeaseUntilMs int64           `json:"lease_until_ms,omitempty"`
	DedupKey     string          `json:"dedup_key,omitempty"`
	Schedule     string          `json:"schedule,omitempty"`      // the schedule that made it
	OccurrenceMs int64           `json:"occurrence_ms,omitempty"` // and the occurrence it stands for
	Traceparent  string          `json:"traceparent,omitempty"`   // the trace context given at add
	Tracestate   string          `json:"tracestate,omitempty"`
	Payload      json.RawMessage `json:"payload"`
}

func taskPath(id string) string { return "/v1/tasks/" + url.PathEscape(id) }
func topicPath(topic string) string {
	return "/v1/topics/" + url.PathEscape(topic)
}

// Add adds one task to topic. Retried on 429/503 only when it has a DedupKey.
func (c *Client) Add(ctx context.Context, topic string, task NewTask) (Added, error) {
	var out Added
	_, err := c.do(ctx, "POST", topicPath(topic)+"/tasks", task.body(), task.DedupKey != "", &out)
	return out, err
}

// AddBatch adds 1-1,000 tasks to topic, all or nothing; the ids are in order. Retried on
// 429/503 only when every task has a DedupKey.
func (c *Client) AddBatch(ctx context.Context, topic string, tasks []NewTask) ([]string, error) {
	items := make([]map[string]any, len(tasks))
	safe := true
	for i, t := range tasks {
		items[i] = t.body()
		safe = safe && t.DedupKey != ""
	}
	var out struct {
		IDs []string `json:"ids"`
	}
	_, err := c.do(ctx, "POST", topicPath(topic)+"/tasks:batch", map[string]any{"tasks": items}, safe, &out)
	return out.IDs, err
}

// Get reads a task.
func (c *Client) Get(ctx context.Context, id string) (*Task, error) {
	var out Task
	if _, err := c.do(ctx, "GET", taskPath(id), nil, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Cancel cancels a task not yet delivered (ErrConflict once delivered).
func (c *Client) Cancel(ctx context.Context, id string) (*Task, error) {
	var out Task
	if _, err := c.do(ctx, "DELETE", taskPath(id), nil, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reschedule moves a task not yet delivered to `at` (the zero time: due now).
func (c *Client) Reschedule(ctx context.Context, id string, at time.Time) (*Task, error) {
	body := map[string]any{"now": true}
	if !at.IsZero() {
		body = map[string]any{"at_ms": at.UnixMilli()}
	}
	var out Task
	if _, err := c.do(ctx, "POST", taskPath(id)+"/reschedule", body, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Redrive makes a dead task due again with its attempts reset.
func (c *Client) Redrive(ctx context.Context, id string) (*Task, error) {
	var out Task
	if _, err := c.do(ctx, "POST", taskPath(id)+"/redrive", nil, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Dead lists dead tasks of topic after the id `after` ("" from the start); next is the
// `after` of the next page, "" when there is none.
func (c *Client) Dead(ctx context.Context, topic, after string, limit int) (tasks []Task, next string, err error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := topicPath(topic) + "/dead"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Tasks     []Task  `json:"tasks"`
		NextAfter *string `json:"next_after"`
	}
	if _, err = c.do(ctx, "GET", path, nil, true, &out); err != nil {
		return nil, "", err
	}
	if out.NextAfter != nil {
		next = *out.NextAfter
	}
	return out.Tasks, next, nil
}

// TopicStats is one topic's counts.
type TopicStats struct {
	Topic               string           `json:"topic"`
	Counts              map[string]int64 `json:"counts"`
	Due                 int64            `json:"due"`
	OldestDueLatenessMs int64            `json:"oldest_due_lateness_ms"`
	Paused              bool             `json:"paused"`
	PausedAtMs          int64            `json:"paused_at_ms,omitempty"`
}

// Topics lists every topic (needs an admin token when tokens are configured).
func (c *Client) Topics(ctx context.Context) ([]TopicStats, error) {
	var out struct {
		Topics []TopicStats `json:"topics"`
	}
	_, err := c.do(ctx, "GET", "/v1/topics", nil, true, &out)
	return out.Topics, err
}

// Topic reads one topic's counts (ErrNotFound for a topic that never had a task).
func (c *Client) Topic(ctx context.Context, topic string) (*TopicStats, error) {
	var out TopicStats
	if _, err := c.do(ctx, "GET", topicPath(topic), nil, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- Leases ------------------------------------------------------------------------------

// Leased is a task taken by Pull: complete it with Ack, give it back with Nack, keep it
// longer with Extend.
type Leased struct {
	ID           string          `json:"id"`
	Payload      json.RawMessage `json:"payload"`
	Attempt      int             `json:"attempt"`
	DueAtMs      int64           `json:"due_at_ms"`
	Lease        string          `json:"lease"`
	LeaseUntilMs int64           `json:"lease_until_ms"`
	Traceparent  string          `json:"traceparent,omitempty"` // the trace context given at add
	Tracestate   string          `json:"tracestate,omitempty"`
}

// PullOptions: Max 1-1,000 (default 1), Wait up to 30 s (long poll), Lease (default 30 s).
type PullOptions struct {
	Max   int
	Wait  time.Duration
	Lease time.Duration
}

// Pull takes up to Max due tasks of topic under a lease.
func (c *Client) Pull(ctx context.Context, topic string, o PullOptions) ([]Leased, error) {
	body := map[string]any{}
	if o.Max > 0 {
		body["max"] = o.Max
	}
	if o.Wait > 0 {
		body["wait_ms"] = o.Wait.Milliseconds()
	}
	if o.Lease > 0 {
		body["lease_ms"] = o.Lease.Milliseconds()
	}
	var out struct {
		Tasks []Leased `json:"tasks"`
	}
	_, err := c.do(ctx, "POST", topicPath(topic)+"/pull", body, true, &out)
	return out.Tasks, err
}

// Ack completes a leased task (ErrConflict: the lease was lost).
func (c *Client) Ack(ctx context.Context, id, lease string) (*Task, error) {
	var out Task
	if _, err := c.do(ctx, "POST", taskPath(id)+"/ack", map[string]any{"lease": lease}, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Nack gives a leased task back: due again after delay, or dead when out of attempts.
func (c *Client) Nack(ctx context.Context, id, lease string, delay time.Duration) (*Task, error) {
	body := map[string]any{"lease": lease, "delay_ms": delay.Milliseconds()}
	var out Task
	if _, err := c.do(ctx, "POST", taskPath(id)+"/nack", body, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Extend moves a lease's deadline to now + lease; returns the new deadline (unix ms).
// ErrConflict when the lease is stale or has expired.
func (c *Client) Extend(ctx context.Context, id, leaseToken string, lease time.Duration) (int64, error) {
	body := map[string]any{"lease": leaseToken, "lease_ms": lease.Milliseconds()}
	var out struct {
		LeaseUntilMs int64 `json:"lease_until_ms"`
	}
	_, err := c.do(ctx, "POST", taskPath(id)+"/extend", body, true, &out)
	return out.LeaseUntilMs, err
}

// --- Seed API ----------------------------------------------------------------------------

// SeedAdd is the original design's add: content due at unix second timingMoment. Never
// retried (it has no dedup key). Returns the task id.
func (c *Client) SeedAdd(ctx context.Context, topic string, timingMoment int64, content string) (int64, error) {
	var out struct {
		TaskID int64 `json:"task_id"`
	}
	body := map[string]any{"topic": topic, "timing_moment": timingMoment, "content": content}
	_, err := c.do(ctx, "POST", "/delay/task/add", body, false, &out)
	return out.TaskID, err
}

// SeedPull is the original design's pull: the oldest due task of topic, marked done
// (at-most-once). id 0 when nothing is due.
func (c *Client) SeedPull(ctx context.Context, topic string) (id int64, content string, err error) {
	var out struct {
		TaskID  int64  `json:"task_id"`
		Content string `json:"content"`
	}
	_, err = c.do(ctx, "POST", "/delay/task/pull", map[string]any{"topic": topic}, false, &out)
	return out.TaskID, out.Content, err
}
