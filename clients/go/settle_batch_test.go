package delayq_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	delayq "github.com/delayq/delayq/clients/go"
)

// 9. Batch ack and nack: each item applied or refused on its own, in request order; a
// request refused as a whole is the typed error.
func TestScenario9BatchAckNack(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	addDue(t, c, "batch", 3, 0)
	var tasks []delayq.Leased
	for tries := 0; len(tasks) < 3; tries++ { // a pull answers with the tasks ready then
		got, err := c.Pull(ctx(t), "batch", delayq.PullOptions{Max: 3 - len(tasks), Wait: 5 * time.Second, Lease: 10 * time.Second})
		if err != nil || tries == 5 {
			t.Fatalf("pull: %d tasks %v", len(tasks), err)
		}
		tasks = append(tasks, got...)
	}
	a, b, d := tasks[0], tasks[1], tasks[2]
	acked, err := c.AckBatch(ctx(t), []delayq.LeaseRef{{ID: a.ID, Lease: a.Lease}, {ID: b.ID, Lease: d.Lease}})
	var stale *delayq.Error
	if err != nil || len(acked) != 2 || acked[0].ID != a.ID || acked[0].State != "done" || acked[0].Err != nil ||
		acked[1].ID != b.ID || !errors.Is(acked[1].Err, delayq.ErrConflict) || !errors.As(acked[1].Err, &stale) ||
		stale.Status != 409 || !strings.Contains(stale.Message, "lease") {
		t.Fatalf("ack batch: %+v %v", acked, err)
	}
	nacked, err := c.NackBatch(ctx(t), []delayq.NackRef{{ID: b.ID, Lease: b.Lease}, {ID: d.ID, Lease: d.Lease, Delay: time.Hour}})
	if err != nil || len(nacked) != 2 || nacked[0].Err != nil || nacked[1].Err != nil ||
		(nacked[0].State != "due" && nacked[0].State != "scheduled") || nacked[1].State != "scheduled" {
		t.Fatalf("nack batch: %+v %v", nacked, err)
	}
	if task, err := c.Get(ctx(t), d.ID); err != nil || task.State != "scheduled" || task.DueAtMs < time.Now().Add(50*time.Minute).UnixMilli() {
		t.Fatalf("the task nacked for an hour: %+v %v", task, err)
	}
	_, err = c.AckBatch(ctx(t), nil)
	var refused *delayq.Error
	if !errors.Is(err, delayq.ErrInvalid) || !errors.As(err, &refused) || !strings.Contains(refused.Message, "acks must hold 1 to 1000 items") {
		t.Fatalf("an empty batch: %v", err)
	}
}
