package delayq

// Batch acknowledgement: many leases ended with one request, and the Consumer's batcher
// that collects its acks into such requests.

import (
	"context"
	"sync"
	"time"
)

// LeaseRef names one leased task: its id and the lease Pull gave with it.
type LeaseRef struct {
	ID    string `json:"id"`
	Lease string `json:"lease"`
}

// NackRef is one task to give back: due again after Delay (or dead when out of attempts).
type NackRef struct {
	ID    string
	Lease string
	Delay time.Duration
}

// Settled is one item's outcome of AckBatch or NackBatch, in request order: State when
// it was applied ("done" for an ack; "scheduled", "due" or "dead" for a nack), else Err, an
// *Error whose Status is the item's code (ErrConflict: the lease was lost; ErrNotFound;
// ErrUnauthorized; ErrOverloaded: storage failed for that item).
type Settled struct {
	ID    string
	State string
	Err   error
}

type settleAnswer struct {
	Results []struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"results"`
}

func (a settleAnswer) settled() []Settled {
	out := make([]Settled, len(a.Results))
	for i, r := range a.Results {
		out[i] = Settled{ID: r.ID, State: r.State}
		if r.Error != nil {
			out[i].Err = &Error{Status: r.Error.Code, Message: r.Error.Message, kind: kindOf(r.Error.Code)}
		}
	}
	return out
}

// AckBatch completes 1-1,000 leased tasks (of any topics) with one request; each item is
// applied or refused on its own. The error is the request's (bad input, 429/503 after the
// retries): then nothing was applied.
func (c *Client) AckBatch(ctx context.Context, items []LeaseRef) ([]Settled, error) {
	if items == nil {
		items = []LeaseRef{} // sent as [], so that the server's message is about the count
	}
	var out settleAnswer
	if _, err := c.do(ctx, "POST", "/v1/tasks:ack", map[string]any{"acks": items}, true, &out); err != nil {
		return nil, err
	}
	return out.settled(), nil
}

// NackBatch gives back 1-1,000 leased tasks with one request, each on its own.
func (c *Client) NackBatch(ctx context.Context, items []NackRef) ([]Settled, error) {
	nacks := make([]map[string]any, len(items))
	for i, n := range items {
		nacks[i] = map[string]any{"id": n.ID, "lease": n.Lease, "delay_ms": n.Delay.Milliseconds()}
	}
	var out settleAnswer
	if _, err := c.do(ctx, "POST", "/v1/tasks:nack", map[string]any{"nacks": nacks}, true, &out); err != nil {
		return nil, err
	}
	return out.settled(), nil
}

// ackBatcher collects the acks of a Consumer's handlers and sends them with AckBatch: once
// `size` are waiting, or `every` after the first of them, and the rest on close.
type ackBatcher struct {
	c      *Client
	size   int
	every  time.Duration
	report func(error)

	mu      sync.Mutex
	pending []LeaseRef
	timer   *time.Timer
	sending sync.WaitGroup
}

func (b *ackBatcher) add(task *Leased) {
	b.mu.Lock()
	b.pending = append(b.pending, LeaseRef{ID: task.ID, Lease: task.Lease})
	var full []LeaseRef
	if len(b.pending) >= b.size {
		full = b.takeLocked()
	} else if b.timer == nil {
		b.timer = time.AfterFunc(b.every, b.flush)
	}
	b.mu.Unlock()
	if full != nil {
		b.send(full)
	}
}

// takeLocked empties pending (b.mu held) and stops the flush timer.
func (b *ackBatcher) takeLocked() []LeaseRef {
	items := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(items) > 0 {
		b.sending.Add(1) // before b.mu is released, so that close waits for this send
	}
	return items
}

func (b *ackBatcher) flush() {
	b.mu.Lock()
	items := b.takeLocked()
	b.mu.Unlock()
	if len(items) > 0 {
		b.send(items)
	}
}

func (b *ackBatcher) send(items []LeaseRef) {
	defer b.sending.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, err := b.c.AckBatch(ctx, items)
	b.report(err) // the leases run out and the tasks come again
	for _, r := range results {
		b.report(r.Err)
	}
}

// close sends what is waiting and returns once every send has been answered.
func (b *ackBatcher) close() {
	b.flush()
	b.sending.Wait()
}
