package delayq_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	delayq "github.com/delayq/delayq/clients/go"
)

func checkSpacing(t *testing.T, what string, next []int64, every int64) {
	t.Helper()
	if len(next) != 5 {
		t.Fatalf("%s: next_ms %v, want 5 fire times", what, next)
	}
	for i := 1; i < len(next); i++ {
		if next[i]-next[i-1] != every {
			t.Fatalf("%s: next_ms %v, want %d ms apart", what, next, every)
		}
	}
}

// 8. Schedules: put (created), get with the next fire times, list by topic page by page, a
// pull receives the task an occurrence made, pause, resume, trigger, replace, delete; an
// invalid cron is the invalid error with the server's message.
func TestScenario8Schedules(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	spec := delayq.ScheduleSpec{Topic: "ticks", Every: time.Second,
		Task: delayq.ScheduleTask{Payload: map[string]bool{"beat": true}, MaxAttempts: 3}}
	put, created, err := c.PutSchedule(ctx(t), "heartbeat", spec)
	if err != nil || !created || put.EveryMs != 1000 || put.Task.Kind != "pull" || put.Task.MaxAttempts != 3 {
		t.Fatalf("put: %+v created %v %v", put, created, err)
	}
	checkSpacing(t, "put", put.NextMs, 1000)
	got, err := c.GetSchedule(ctx(t), "heartbeat")
	if err != nil || got.Topic != "ticks" || got.Paused || got.LastTaskID != "" {
		t.Fatalf("get: %+v %v", got, err)
	}
	checkSpacing(t, "get", got.NextMs, 1000)
	// Two more: one in the topic (a six-field cron, paused), one elsewhere.
	nightly := delayq.ScheduleSpec{Topic: "ticks", Cron: "30 0 3 * * *", TimeZone: "Europe/London",
		Paused: true, Task: delayq.ScheduleTask{Payload: "nightly"}}
	if _, created, err := c.PutSchedule(ctx(t), "nightly", nightly); err != nil || !created {
		t.Fatalf("put nightly: %v %v", created, err)
	}
	other := delayq.ScheduleSpec{Topic: "elsewhere", Cron: "0 0 1 1 *", Task: delayq.ScheduleTask{Payload: 1}}
	if _, _, err := c.PutSchedule(ctx(t), "other", other); err != nil {
		t.Fatal(err)
	}
	var paged []string
	for cursor, pages := "", 0; ; pages++ {
		page, next, err := c.ListSchedules(ctx(t), "ticks", cursor, 1)
		if err != nil || pages > 3 {
			t.Fatalf("list page %d: %v %v", pages, page, err)
		}
		for _, sc := range page {
			paged = append(paged, sc.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var walked []string
	err = c.EachSchedule(ctx(t), "ticks", 1, func(sc *delayq.Schedule) error {
		walked = append(walked, sc.Name)
		return nil
	})
	if strings.Join(paged, ",") != "heartbeat,nightly" || strings.Join(walked, ",") != "heartbeat,nightly" || err != nil {
		t.Fatalf("list by topic: paged %v, walked %v %v", paged, walked, err)
	}
	// The first occurrence, due about a second after the put.
	tasks, err := c.Pull(ctx(t), "ticks", delayq.PullOptions{Max: 1, Wait: 5 * time.Second, Lease: 10 * time.Second})
	if err != nil || len(tasks) != 1 || string(tasks[0].Payload) != `{"beat":true}` {
		t.Fatalf("pull: %+v %v", tasks, err)
	}
	done, err := c.Ack(ctx(t), tasks[0].ID, tasks[0].Lease)
	if err != nil || done.Schedule != "heartbeat" || done.OccurrenceMs != put.NextMs[0] ||
		done.DueAtMs < done.OccurrenceMs || done.MaxAttempts != 3 {
		t.Fatalf("the occurrence's task: %+v %v (next_ms %v)", done, err, put.NextMs)
	}
	paused, err := c.PauseSchedule(ctx(t), "heartbeat")
	if err != nil || !paused.Paused || len(paused.NextMs) != 0 {
		t.Fatalf("pause: %+v %v", paused, err)
	}
	if got, err := c.GetSchedule(ctx(t), "heartbeat"); err != nil || !got.Paused || len(got.NextMs) != 0 {
		t.Fatalf("get after pause: %+v %v", got, err)
	}
	resumed, err := c.ResumeSchedule(ctx(t), "heartbeat")
	if err != nil || resumed.Paused {
		t.Fatalf("resume: %+v %v", resumed, err)
	}
	checkSpacing(t, "resume", resumed.NextMs, 1000)
	before := time.Now().UnixMilli()
	triggered, err := c.TriggerSchedule(ctx(t), "heartbeat")
	if err != nil || triggered.Schedule != "heartbeat" || triggered.OccurrenceMs < before-1000 {
		t.Fatalf("trigger: %+v %v", triggered, err)
	}
	now, err := c.Get(ctx(t), triggered.ID)
	if err != nil || now.Schedule != "heartbeat" || now.OccurrenceMs != triggered.OccurrenceMs || now.State != "due" {
		t.Fatalf("the triggered task: %+v %v", now, err)
	}
	spec.Every = 2 * time.Second
	replaced, created, err := c.PutSchedule(ctx(t), "heartbeat", spec)
	if err != nil || created || replaced.EveryMs != 2000 {
		t.Fatalf("replace: %+v created %v %v", replaced, created, err)
	}
	checkSpacing(t, "replace", replaced.NextMs, 2000)
	if gone, err := c.DeleteSchedule(ctx(t), "heartbeat"); err != nil || gone.Name != "heartbeat" {
		t.Fatalf("delete: %+v %v", gone, err)
	}
	if _, err := c.GetSchedule(ctx(t), "heartbeat"); !errors.Is(err, delayq.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	bad := delayq.ScheduleSpec{Topic: "ticks", Cron: "0 25 * * *", Task: delayq.ScheduleTask{Payload: "x"}}
	_, _, err = c.PutSchedule(ctx(t), "bad", bad)
	var apiErr *delayq.Error
	if !errors.Is(err, delayq.ErrInvalid) || !errors.As(err, &apiErr) || apiErr.Status != 400 ||
		!strings.Contains(apiErr.Message, `cron: hour field "25"`) {
		t.Fatalf("bad cron: %v", err)
	}
}
