package delayq_test

// The must-show scenarios against the real delayq binary (DELAYQ_BINARY), each on its own
// server on an ephemeral loopback port.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	delayq "github.com/delayq/delayq/clients/go"
)

type server struct {
	addr string
	cmd  *exec.Cmd
}

func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	bin := os.Getenv("DELAYQ_BINARY")
	if bin == "" {
		t.Skip("DELAYQ_BINARY is not set (the path of a built delayq)")
	}
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(out)
		for scanner.Scan() {
			if i := strings.Index(scanner.Text(), "listening on http://"); i >= 0 {
				found <- strings.TrimSpace(scanner.Text()[i+len("listening on "):])
			}
		}
	}()
	select {
	case addr := <-found:
		return &server{addr: addr, cmd: cmd}
	case <-time.After(20 * time.Second):
		t.Fatal("delayq did not start")
	}
	return nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(cancel)
	return c
}

// 1. add / get / cancel; a batch of 1,000; the same dedup key twice returns the same id.
func TestScenario1AddGetCancelBatchDedup(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	added, err := c.Add(ctx(t), "orders", delayq.NewTask{Payload: map[string]int{"order": 42}, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Get(ctx(t), added.ID)
	if err != nil || task.State != "scheduled" || string(task.Payload) != `{"order":42}` {
		t.Fatalf("get: %+v %v", task, err)
	}
	cancelled, err := c.Cancel(ctx(t), added.ID)
	if err != nil || cancelled.State != "cancelled" {
		t.Fatalf("cancel: %+v %v", cancelled, err)
	}
	if _, err := c.Get(ctx(t), "999999"); !errors.Is(err, delayq.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	batch := make([]delayq.NewTask, 1000)
	for i := range batch {
		batch[i] = delayq.NewTask{Payload: fmt.Sprintf("item %d", i), Delay: time.Hour}
	}
	ids, err := c.AddBatch(ctx(t), "bulk", batch)
	if err != nil || len(ids) != 1000 {
		t.Fatalf("batch: %d ids, %v", len(ids), err)
	}
	unique := map[string]bool{}
	for _, id := range ids {
		unique[id] = true
	}
	stats, err := c.Topic(ctx(t), "bulk")
	if len(unique) != 1000 || err != nil || stats.Counts["scheduled"] != 1000 {
		t.Fatalf("batch stored %d unique, stats %+v %v", len(unique), stats, err)
	}
	first, err := c.Add(ctx(t), "orders", delayq.NewTask{Payload: "close 43", DedupKey: "order-43", Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Add(ctx(t), "orders", delayq.NewTask{Payload: "again", DedupKey: "order-43"})
	if err != nil || second.ID != first.ID || !second.Duplicate {
		t.Fatalf("dedup: %+v %+v %v", first, second, err)
	}
}

func addDue(t *testing.T, c *delayq.Client, topic string, n int, maxAttempts int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		batch := make([]delayq.NewTask, 0, 1000)
		for i := len(ids); i < n && len(batch) < 1000; i++ {
			batch = append(batch, delayq.NewTask{Payload: fmt.Sprintf("t%d", i), MaxAttempts: maxAttempts})
		}
		got, err := c.AddBatch(ctx(t), topic, batch)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// pathCounter counts the requests per path.
type pathCounter struct {
	mu   sync.Mutex
	n    map[string]int
	base http.Transport
}

func (p *pathCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.n[r.URL.Path]++
	p.mu.Unlock()
	return p.base.RoundTrip(r)
}

// 2. A consumer with concurrency 8 processes 1,000 due tasks, each exactly once; its acks go
// in batches.
func TestScenario2ConsumerConcurrency8ExactlyOnce(t *testing.T) {
	s := startServer(t, nil)
	paths := &pathCounter{n: map[string]int{}}
	c := delayq.New(s.addr, delayq.WithHTTPClient(&http.Client{Transport: paths, Timeout: 40 * time.Second}))
	ids := addDue(t, c, "work", 1000, 0)
	var mu sync.Mutex
	seen := map[string]int{}
	var inFlight, peak int32
	all := make(chan struct{})
	run, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(run, "work", delayq.ConsumerOptions{Concurrency: 8, Lease: 10 * time.Second, Wait: time.Second},
			func(ctx context.Context, task *delayq.Leased) error {
				now := atomic.AddInt32(&inFlight, 1)
				defer atomic.AddInt32(&inFlight, -1)
				for {
					p := atomic.LoadInt32(&peak)
					if now <= p || atomic.CompareAndSwapInt32(&peak, p, now) {
						break
					}
				}
				time.Sleep(time.Millisecond) // some work, so that handlers overlap
				mu.Lock()
				seen[task.ID]++
				if len(seen) == len(ids) && seen[task.ID] == 1 {
					close(all)
				}
				mu.Unlock()
				return nil
			})
	}()
	select {
	case <-all:
	case <-time.After(40 * time.Second):
		t.Fatal("not every task was processed")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stats, err := c.Topic(ctx(t), "work")
	if err != nil || stats.Counts["done"] != 1000 {
		t.Fatalf("topic after the run: %+v %v", stats, err)
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("task %s handled %d times", id, seen[id])
		}
	}
	if peak > 8 || peak < 2 {
		t.Fatalf("peak concurrency %d, want 2..8", peak)
	}
	paths.mu.Lock()
	defer paths.mu.Unlock()
	single := 0
	for path, n := range paths.n {
		if strings.HasSuffix(path, "/ack") {
			single += n
		}
	}
	t.Logf("acks: %d single, %d batches", single, paths.n["/v1/tasks:ack"])
	if batches := paths.n["/v1/tasks:ack"]; single != 0 || batches < 1 || batches > 500 {
		t.Fatalf("%d single acks and %d batch acks for 1,000 tasks, want only batches of 2 or more on average", single, batches)
	}
}

// 3. A handler that takes 3× its lease keeps its task (auto-extend): no redelivery,
// attempt stays 1.
func TestScenario3AutoExtendKeepsTheTask(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	added, err := c.Add(ctx(t), "slow", delayq.NewTask{Payload: "long job"})
	if err != nil {
		t.Fatal(err)
	}
	lease := 500 * time.Millisecond
	var calls int32
	var attempts []int
	var mu sync.Mutex
	run, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- c.Consume(run, "slow", delayq.ConsumerOptions{Concurrency: 2, Lease: lease, Wait: 300 * time.Millisecond},
			func(ctx context.Context, task *delayq.Leased) error {
				atomic.AddInt32(&calls, 1)
				mu.Lock()
				attempts = append(attempts, task.Attempt)
				mu.Unlock()
				select {
				case <-time.After(3 * lease):
				case <-ctx.Done():
					return ctx.Err()
				}
				close(finished)
				return nil
			})
	}()
	<-finished
	// The task is done once acked; a redelivery would have shown as a second call.
	deadline := time.Now().Add(10 * time.Second)
	for {
		task, err := c.Get(ctx(t), added.ID)
		if err == nil && task.State == "done" {
			if task.Attempts != 1 {
				t.Fatalf("attempts %d, want 1", task.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not done: %+v %v", task, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	if calls != 1 || len(attempts) != 1 || attempts[0] != 1 {
		t.Fatalf("handler calls %d, attempts %v", calls, attempts)
	}
}

// 4. A failing handler → nack → attempt 2 → success; after max_attempts the task is dead.
func TestScenario4NackRetryThenDead(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	flaky, err := c.Add(ctx(t), "retry", delayq.NewTask{Payload: "flaky", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := c.Add(ctx(t), "retry", delayq.NewTask{Payload: "doomed", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string][]int{}
	run, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(run, "retry", delayq.ConsumerOptions{Concurrency: 2, Wait: 300 * time.Millisecond,
			RetryDelay: func(int, error) time.Duration { return 100 * time.Millisecond }},
			func(ctx context.Context, task *delayq.Leased) error {
				mu.Lock()
				attempts[task.ID] = append(attempts[task.ID], task.Attempt)
				mu.Unlock()
				if task.ID == doomed.ID || task.Attempt == 1 {
					return errors.New("boom")
				}
				return nil
			})
	}()
	waitState := func(id, state string) *delayq.Task {
		deadline := time.Now().Add(20 * time.Second)
		for {
			task, err := c.Get(ctx(t), id)
			if err == nil && task.State == state {
				return task
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s not %s: %+v %v", id, state, task, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ok := waitState(flaky.ID, "done")
	dead := waitState(doomed.ID, "dead")
	stop()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts[flaky.ID]) != "[1 2]" || ok.Attempts != 2 {
		t.Fatalf("flaky attempts %v, task %+v", attempts[flaky.ID], ok)
	}
	if fmt.Sprint(attempts[doomed.ID]) != "[1 2 3]" || dead.Attempts != 3 {
		t.Fatalf("doomed attempts %v, task %+v", attempts[doomed.ID], dead)
	}
	list, _, err := c.Dead(ctx(t), "retry", "", 10)
	if err != nil || len(list) != 1 || list[0].ID != doomed.ID {
		t.Fatalf("dead list %+v %v", list, err)
	}
}

// 5. The webhook helper accepts a real callback from delayq with a signing key, and
// rejects the same request with a changed body and with a timestamp older than the
// tolerance.
func TestScenario5WebhookVerification(t *testing.T) {
	key := []byte("signing-key-for-tests")
	type captured struct {
		header http.Header
		body   []byte
		hook   *delayq.Webhook
	}
	got := make(chan captured, 1)
	receiver := httptest.NewServer(delayq.WebhookHandler(key, time.Minute,
		func(w http.ResponseWriter, r *http.Request, hook *delayq.Webhook) {
			got <- captured{r.Header.Clone(), hook.Body, hook}
			w.WriteHeader(204)
		}))
	defer receiver.Close()
	s := startServer(t, []string{"DELAYQ_SIGNING_KEY=" + string(key)})
	c := delayq.New(s.addr)
	added, err := c.Add(ctx(t), "hooks", delayq.NewTask{Payload: map[string]string{"user": "7"},
		Callback: &delayq.Callback{URL: receiver.URL + "/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	var call captured
	select {
	case call = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no callback arrived")
	}
	if call.hook.TaskID != added.ID || call.hook.Attempt != 1 || string(call.body) != `{"user":"7"}` {
		t.Fatalf("webhook %+v body %q", call.hook, call.body)
	}
	now := time.Now()
	if _, err := delayq.VerifyWebhook(key, call.header, call.body, time.Minute, now); err != nil {
		t.Fatalf("the real call does not verify again: %v", err)
	}
	if _, err := delayq.VerifyWebhook(key, call.header, []byte(`{"user":"8"}`), time.Minute, now); !errors.Is(err, delayq.ErrBadSignature) {
		t.Fatalf("changed body: %v", err)
	}
	later := time.Unix(call.hook.Timestamp, 0).Add(time.Minute + time.Second)
	if _, err := delayq.VerifyWebhook(key, call.header, call.body, time.Minute, later); !errors.Is(err, delayq.ErrStale) {
		t.Fatalf("stale timestamp: %v", err)
	}
	// The middleware answers 401 to a replay with a changed body.
	req, _ := http.NewRequest("POST", receiver.URL+"/hook", strings.NewReader(`{"user":"8"}`))
	req.Header = call.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("replay with a changed body: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		task, err := c.Get(ctx(t), added.ID)
		if err == nil && task.State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback task not done: %+v %v", task, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type countingTransport struct {
	n    int32
	base http.Transport
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	atomic.AddInt32(&c.n, 1)
	return c.base.RoundTrip(r)
}

// 6. 503 from the server (here: its connection limit is taken) is retried and then
// surfaced as the typed error; a wrong token surfaces as unauthorized.
func TestScenario6RetriesThenTypedErrorAndWrongToken(t *testing.T) {
	s := startServer(t, []string{"DELAYQ_AUTH_TOKENS=right-token-0123456789"}, "--limits-max-connections", "2")
	// A wrong token first, while connections are free.
	wrong := delayq.New(s.addr, delayq.WithToken("wrong-token-0123456789"),
		delayq.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	if _, err := wrong.Get(ctx(t), "1"); !errors.Is(err, delayq.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	var held []net.Conn
	defer func() {
		for _, conn := range held {
			conn.Close()
		}
	}()
	host := strings.TrimPrefix(s.addr, "http://")
	// Take both connections: each holder is answered once (so the server counts it) and
	// then stays open, idle. A holder refused while an earlier connection is still being
	// closed is dialled again.
	deadline := time.Now().Add(10 * time.Second)
	for len(held) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("could not take the connection limit")
		}
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		line, _ := bufio.NewReader(conn).ReadString('\n')
		if !strings.Contains(line, " 200 ") {
			conn.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		conn.SetDeadline(time.Time{})
		held = append(held, conn)
	}
	transport := &countingTransport{}
	c := delayq.New(s.addr, delayq.WithToken("right-token-0123456789"), delayq.WithRetries(3, 20*time.Millisecond),
		delayq.WithHTTPClient(&http.Client{Transport: transport, Timeout: 5 * time.Second}))
	_, err := c.Get(ctx(t), "1")
	var apiErr *delayq.Error
	if !errors.Is(err, delayq.ErrOverloaded) || !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("want the typed overloaded error, got %v", err)
	}
	if transport.n != 4 {
		t.Fatalf("%d attempts, want 1 + 3 retries", transport.n)
	}
	// An add without a dedup key is not repeated (its outcome could be unknown).
	before := atomic.LoadInt32(&transport.n)
	if _, err := c.Add(ctx(t), "t", delayq.NewTask{Payload: "x"}); !errors.Is(err, delayq.ErrOverloaded) {
		t.Fatalf("add: %v", err)
	}
	if n := atomic.LoadInt32(&transport.n) - before; n != 1 {
		t.Fatalf("an add without dedup key was sent %d times", n)
	}
	// A schedule's put is repeated (the same put again changes nothing); a trigger is not
	// (each one makes a task).
	before = atomic.LoadInt32(&transport.n)
	spec := delayq.ScheduleSpec{Topic: "t", Every: time.Minute, Task: delayq.ScheduleTask{Payload: "x"}}
	if _, _, err := c.PutSchedule(ctx(t), "s", spec); !errors.Is(err, delayq.ErrOverloaded) {
		t.Fatalf("put schedule: %v", err)
	}
	if n := atomic.LoadInt32(&transport.n) - before; n != 4 {
		t.Fatalf("a schedule put was sent %d times, want 1 + 3 retries", n)
	}
	before = atomic.LoadInt32(&transport.n)
	if _, err := c.TriggerSchedule(ctx(t), "s"); !errors.Is(err, delayq.ErrOverloaded) {
		t.Fatalf("trigger: %v", err)
	}
	if n := atomic.LoadInt32(&transport.n) - before; n != 1 {
		t.Fatalf("a trigger was sent %d times", n)
	}
}

// 7. The seed API add + pull round trip.
func TestScenario7SeedAddPull(t *testing.T) {
	s := startServer(t, nil)
	c := delayq.New(s.addr)
	content := `{"uid":"111111"}`
	id, err := c.SeedAdd(ctx(t), "order_timeout", time.Now().Unix(), content)
	if err != nil || id == 0 {
		t.Fatalf("seed add: %d %v", id, err)
	}
	got, body, err := c.SeedPull(ctx(t), "order_timeout")
	if err != nil || got != id || body != content {
		t.Fatalf("seed pull: %d %q %v", got, body, err)
	}
	none, _, err := c.SeedPull(ctx(t), "order_timeout")
	if err != nil || none != 0 {
		t.Fatalf("second pull: %d %v", none, err)
	}
}
