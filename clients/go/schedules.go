package delayq

// Schedules: recurring tasks made by the server from a cron expression or an interval, one
// task per occurrence.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ScheduleTask is the task each occurrence of a schedule makes. Give at most one of
// Callback and Sink; with neither it is a pull task.
type ScheduleTask struct {
	Payload any // any JSON-encodable value; a string is stored byte for byte
	// Callback makes the occurrences callback tasks.
	Callback *Callback
	// Sink makes them sink tasks, e.g. map[string]any{"kafka": map[string]string{"topic": "t"}}.
	Sink        any
	MaxAttempts int // 0: the server's default
}

func (t ScheduleTask) body() map[string]any {
	b := map[string]any{"payload": t.Payload}
	if t.Callback != nil {
		b["callback"] = t.Callback
	}
	if t.Sink != nil {
		b["sink"] = t.Sink
	}
	if t.MaxAttempts > 0 {
		b["max_attempts"] = t.MaxAttempts
	}
	return b
}

// ScheduleSpec is the definition PutSchedule creates or replaces. Give exactly one of Cron
// and Every; the zero value of any other field takes the server's default.
type ScheduleSpec struct {
	Topic string // the topic of the tasks it makes
	// Cron: five fields (minute hour day-of-month month day-of-week), or six with a
	// leading second, read in TimeZone.
	Cron string
	// Every: a fixed interval (at least 1 s), from StartAt or the time of the put.
	Every         time.Duration
	TimeZone      string    // IANA zone of Cron (default "UTC")
	StartAt       time.Time // no occurrence before
	EndAt         time.Time // no occurrence after
	Jitter        time.Duration
	CatchUp       string        // after downtime: "skip", "latest" (default) or "all"
	CatchUpWindow time.Duration // missed occurrences older than this are not fired
	Paused        bool          // create or replace it paused
	Task          ScheduleTask
}

func (s ScheduleSpec) body() map[string]any {
	b := map[string]any{"topic": s.Topic, "task": s.Task.body()}
	if s.Cron != "" {
		b["cron"] = s.Cron
	}
	if s.Every != 0 {
		b["every_ms"] = s.Every.Milliseconds()
	}
	if s.TimeZone != "" {
		b["time_zone"] = s.TimeZone
	}
	if !s.StartAt.IsZero() {
		b["start_at_ms"] = s.StartAt.UnixMilli()
	}
	if !s.EndAt.IsZero() {
		b["end_at_ms"] = s.EndAt.UnixMilli()
	}
	if s.Jitter > 0 {
		b["jitter_ms"] = s.Jitter.Milliseconds()
	}
	if s.CatchUp != "" {
		b["catch_up"] = s.CatchUp
	}
	if s.CatchUpWindow > 0 {
		b["catch_up_window_ms"] = s.CatchUpWindow.Milliseconds()
	}
	if s.Paused {
		b["paused"] = true
	}
	return b
}

// TaskTemplate is a schedule's task as the server holds it (callback headers left out).
type TaskTemplate struct {
	Kind        string          `json:"kind"` // "pull", "callback" or "sink"
	Payload     json.RawMessage `json:"payload"`
	Callback    *Callback       `json:"callback,omitempty"`
	Sink        json.RawMessage `json:"sink,omitempty"`
	MaxAttempts int             `json:"max_attempts"` // 0: the server's default
}

// Schedule is the server's schedule object. Times are unix milliseconds of occurrences
// (before jitter); 0 and "" stand for the server's null.
type Schedule struct {
	Name            string       `json:"name"`
	Topic           string       `json:"topic"`
	Cron            string       `json:"cron,omitempty"`
	EveryMs         int64        `json:"every_ms,omitempty"`
	TimeZone        string       `json:"time_zone"`
	StartAtMs       int64        `json:"start_at_ms"`
	EndAtMs         int64        `json:"end_at_ms"`
	JitterMs        int64        `json:"jitter_ms"`
	CatchUp         string       `json:"catch_up"`
	CatchUpWindowMs int64        `json:"catch_up_window_ms"`
	Paused          bool         `json:"paused"`
	Task            TaskTemplate `json:"task"`
	// NextMs: the next 5 fire times; empty when paused or ended.
	NextMs           []int64 `json:"next_ms"`
	LastOccurrenceMs int64   `json:"last_occurrence_ms"` // the last occurrence that fired
	LastTaskID       string  `json:"last_task_id"`       // and its task
	CreatedAtMs      int64   `json:"created_at_ms"`
	UpdatedAtMs      int64   `json:"updated_at_ms"`
}

// Triggered is the task a TriggerSchedule made.
type Triggered struct {
	ID           string `json:"id"`
	Schedule     string `json:"schedule"`
	OccurrenceMs int64  `json:"occurrence_ms"`
}

func schedulePath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: schedule name must not be empty: give 1-128 characters of [A-Za-z0-9._:-]",
			ErrInvalid)
	}
	return "/v1/schedules/" + url.PathEscape(name), nil
}

// scheduleCall sends one call on a schedule and decodes the schedule object it answers.
func (c *Client) scheduleCall(ctx context.Context, method, name, action string, body any) (*Schedule, int, error) {
	path, err := schedulePath(name)
	if err != nil {
		return nil, 0, err
	}
	var out Schedule
	// Put, get, delete, pause and resume may be repeated: the same put or state again
	// changes nothing.
	status, err := c.do(ctx, method, path+action, body, true, &out)
	if err != nil {
		return nil, status, err
	}
	return &out, status, nil
}

// PutSchedule creates (created true, HTTP 201) or replaces (false, 200) the schedule name
// (1-128 characters of [A-Za-z0-9._:-]). An invalid spec is ErrInvalid with the server's
// message naming the field, e.g. `cron: hour field "25": 25 is out of range 0-23`.
// Retried on 429/503 (the same definition again changes nothing); a put that was applied
// before a retry reports created false.
func (c *Client) PutSchedule(ctx context.Context, name string, spec ScheduleSpec) (*Schedule, bool, error) {
	s, status, err := c.scheduleCall(ctx, "PUT", name, "", spec.body())
	return s, status == 201, err
}

// GetSchedule reads a schedule (ErrNotFound when unknown).
func (c *Client) GetSchedule(ctx context.Context, name string) (*Schedule, error) {
	s, _, err := c.scheduleCall(ctx, "GET", name, "", nil)
	return s, err
}

// DeleteSchedule deletes a schedule and cancels its pending task; returns it as it was.
// Retried on 429/503, so a delete applied before a retry answers ErrNotFound.
func (c *Client) DeleteSchedule(ctx context.Context, name string) (*Schedule, error) {
	s, _, err := c.scheduleCall(ctx, "DELETE", name, "", nil)
	return s, err
}

// PauseSchedule stops the occurrences and cancels the pending task (a no-op when paused).
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	s, _, err := c.scheduleCall(ctx, "POST", name, "/pause", nil)
	return s, err
}

// ResumeSchedule starts the occurrences again from the next one after now (those while
// paused are not caught up; a no-op when running).
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	s, _, err := c.scheduleCall(ctx, "POST", name, "/resume", nil)
	return s, err
}

// TriggerSchedule makes one task of the schedule now, besides its timing. Never retried:
// each trigger makes a task, so a repeat after a 503 whose outcome is unknown could make
// two.
func (c *Client) TriggerSchedule(ctx context.Context, name string) (Triggered, error) {
	var out Triggered
	path, err := schedulePath(name)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, "POST", path+"/trigger", nil, false, &out)
	return out, err
}

// ListSchedules lists the schedules of topic ("" every topic's, an admin call when
// tokens are on) in name order, from after the name cursor ("" from the start), up to
// limit (1-1,000; 0: the server's 100). next is the cursor of the next page, "" when
// there is none.
func (c *Client) ListSchedules(ctx context.Context, topic, cursor string, limit int) (schedules []Schedule, next string, err error) {
	q := url.Values{}
	if topic != "" {
		q.Set("topic", topic)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/schedules"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Schedules  []Schedule `json:"schedules"`
		NextCursor *string    `json:"next_cursor"`
	}
	if _, err = c.do(ctx, "GET", path, nil, true, &out); err != nil {
		return nil, "", err
	}
	if out.NextCursor != nil {
		next = *out.NextCursor
	}
	return out.Schedules, next, nil
}

// ErrStopEach, returned by the function given to EachSchedule, ends the walk without an
// error.
var ErrStopEach = errors.New("delayq: stop EachSchedule")

// EachSchedule calls fn with every schedule of topic ("" every topic's), in name order,
// reading pages of pageSize (0: the server's 100). It stops at the first error of a page
// or of fn (ErrStopEach: stop, nil returned).
func (c *Client) EachSchedule(ctx context.Context, topic string, pageSize int, fn func(*Schedule) error) error {
	cursor := ""
	for {
		page, next, err := c.ListSchedules(ctx, topic, cursor, pageSize)
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				if errors.Is(err, ErrStopEach) {
					return nil
				}
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
