package delayq

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Handler processes one leased task. Its context is cancelled when the lease is lost (an
// extension answered 409) or when a stop's grace period ends. Return nil to ack, an error
// to nack (the task is due again after ConsumerOptions.RetryDelay, or dead when out of
// attempts).
type Handler func(ctx context.Context, task *Leased) error

// ConsumerOptions configures Consume. Zero values take the defaults.
type ConsumerOptions struct {
	Concurrency int           // handlers running at once (default 1)
	Lease       time.Duration // lease per task, and per extension (default 30 s)
	Wait        time.Duration // long-poll wait per pull (default 5 s; bounds how long a stop takes to notice)
	// ExtendAfter: the lease is extended once this fraction of it has passed while the
	// handler still runs, and again each time (default 0.5).
	ExtendAfter float64
	// RetryDelay: the nack delay after a failed attempt (default: 1 s × attempt).
	RetryDelay func(attempt int, err error) time.Duration
	// Grace: after ctx is cancelled, running handlers get this long to finish; then their
	// contexts are cancelled and their tasks given back (nack without delay). Default 30 s.
	Grace time.Duration
	// AckBatch: the acks of successful handlers are sent together, one POST /v1/tasks:ack
	// once this many are waiting (default 100, at most 1,000)...
	AckBatch int
	// AckFlush: ...or this long after the first of them (default 50 ms, at most a quarter of
	// Lease, so that an ack arrives well before its lease, no longer extended, runs out).
	AckFlush time.Duration
	// OnError is told about failed pulls, acks, nacks and extensions (default: ignored).
	OnError func(err error)
}

// Consume long-polls topic and runs handler on each task with at most Concurrency at once,
// until ctx is cancelled; then it stops pulling, lets running handlers finish (up to
// Grace), sends the acks still waiting, and returns. Tasks received after the stop began
// are given back at once. Acks go in batches (AckBatch, AckFlush); nacks one by one.
func (c *Client) Consume(ctx context.Context, topic string, o ConsumerOptions, handler Handler) error {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Second
	}
	if o.ExtendAfter <= 0 || o.ExtendAfter >= 1 {
		o.ExtendAfter = 0.5
	}
	if o.RetryDelay == nil {
		o.RetryDelay = func(attempt int, _ error) time.Duration { return time.Duration(attempt) * time.Second }
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.AckBatch <= 0 || o.AckBatch > 1000 {
		o.AckBatch = 100
	}
	if o.AckFlush <= 0 {
		o.AckFlush = 50 * time.Millisecond
	}
	if o.AckFlush > o.Lease/4 {
		o.AckFlush = o.Lease / 4
	}
	report := func(err error) {
		if o.OnError != nil && err != nil {
			o.OnError(err)
		}
	}
	// Handlers' contexts outlive ctx by the grace period; acks and nacks use their own.
	handlers, cancelHandlers := context.WithCancel(context.Background())
	defer cancelHandlers()
	acks := &ackBatcher{c: c, size: o.AckBatch, every: o.AckFlush, report: report}
	slots := make(chan struct{}, o.Concurrency)
	var running sync.WaitGroup
	for ctx.Err() == nil {
		slots <- struct{}{} // wait for one free slot, then take every free one
		free := 1
	more:
		for free < o.Concurrency {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break more
			}
		}
		// Not cancelled by ctx: an answer dropped mid-flight would leave its tasks leased.
		pullCtx, cancel := context.WithTimeout(context.Background(), o.Wait+10*time.Second)
		tasks, err := c.Pull(pullCtx, topic, PullOptions{Max: free, Wait: o.Wait, Lease: o.Lease})
		cancel()
		if err != nil {
			report(err)
			for i := 0; i < free; i++ {
				<-slots
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		for i := len(tasks); i < free; i++ {
			<-slots
		}
		for i := range tasks {
			task := &tasks[i]
			if ctx.Err() != nil { // stopping: give it back
				_, err := c.Nack(context.Background(), task.ID, task.Lease, 0)
				report(err)
				<-slots
				continue
			}
			running.Add(1)
			go func() {
				defer func() { <-slots; running.Done() }()
				c.runOne(handlers, task, o, handler, acks, report)
			}()
		}
	}
	finished := make(chan struct{})
	go func() { running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(o.Grace):
		cancelHandlers()
		<-finished
	}
	acks.close()
	return nil
}

func (c *Client) runOne(parent context.Context, task *Leased, o ConsumerOptions, handler Handler,
	acks *ackBatcher, report func(error)) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stopExtending := make(chan struct{})
	extended := make(chan struct{})
	var lost bool
	go func() {
		defer close(extended)
		every := time.Duration(float64(o.Lease) * o.ExtendAfter)
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-stopExtending:
				return
			case <-ticker.C:
				_, err := c.Extend(context.Background(), task.ID, task.Lease, o.Lease)
				if errors.Is(err, ErrConflict) {
					lost = true
					cancel()
					report(err)
					return
				}
				report(err)
			}
		}
	}()
	err := handler(ctx, task)
	close(stopExtending)
	<-extended
	if lost {
		return // someone else has the task now; an ack or nack would be refused
	}
	if parent.Err() != nil && err != nil {
		_, nerr := c.Nack(context.Background(), task.ID, task.Lease, 0) // stopped: give back
		report(nerr)
		return
	}
	if err == nil {
		acks.add(task)
		return
	}
	_, nerr := c.Nack(context.Background(), task.ID, task.Lease, o.RetryDelay(task.Attempt, err))
	report(nerr)
}
