package delayq_test

import (
	"errors"
	"testing"
	"time"

	delayq "github.com/delayq/delayq/clients/go"
)

const (
	parent      = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	otherParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	state       = "congo=t61rcWkgMzE"
)

// The trace context given with an add comes back in GET and in the pulled task; a task's own
// Traceparent replaces the context's; an invalid one is refused; pause and resume take it.
func TestTraceContextOnAddPullAndTopicPause(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	traced := delayq.WithTraceContext(ctx(t), parent, state)

	added, err := c.Add(traced, "traced", delayq.NewTask{Payload: "p"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Get(ctx(t), added.ID)
	if err != nil || task.Traceparent != parent || task.Tracestate != state {
		t.Fatalf("get: %+v %v", task, err)
	}
	ids, err := c.AddBatch(traced, "batch", []delayq.NewTask{{Payload: "a"}, {Payload: "b", Traceparent: otherParent}})
	if err != nil || len(ids) != 2 {
		t.Fatalf("batch: %v %v", ids, err)
	}
	if own, _ := c.Get(ctx(t), ids[1]); own == nil || own.Traceparent != otherParent || own.Tracestate != "" {
		t.Fatalf("a task's own traceparent: %+v", own)
	}

	leased, err := c.Pull(ctx(t), "traced", delayq.PullOptions{Max: 1, Wait: 5 * time.Second})
	if err != nil || len(leased) != 1 || leased[0].Traceparent != parent || leased[0].Tracestate != state {
		t.Fatalf("pull: %+v %v", leased, err)
	}

	bad := delayq.WithTraceContext(ctx(t), "00-zz", "")
	if _, err := c.Add(bad, "traced", delayq.NewTask{Payload: "p"}); !errors.Is(err, delayq.ErrInvalid) {
		t.Fatalf("invalid traceparent: %v", err)
	}

	paused, err := c.PauseTopic(traced, "traced")
	if err != nil || !paused.Paused {
		t.Fatalf("pause: %+v %v", paused, err)
	}
	resumed, err := c.ResumeTopic(traced, "traced")
	if err != nil || resumed.Paused {
		t.Fatalf("resume: %+v %v", resumed, err)
	}
}
