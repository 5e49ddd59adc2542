package delayq

// W3C trace context and topic pause/resume.

import (
	"context"
	"net/http"
)

type traceKey struct{}

type traceContext struct{ traceparent, tracestate string }

// WithTraceContext returns a context whose calls send traceparent (and tracestate, when not
// empty) as W3C Trace Context headers. An add made with it stores the context with the task,
// and delayq sends it on with the task's callback, sink message and pulled form; other calls
// (PauseTopic, ResumeTopic, ...) carry it too, for proxies and access logs on the way.
// A NewTask's own Traceparent replaces it for that task.
func WithTraceContext(ctx context.Context, traceparent, tracestate string) context.Context {
	return context.WithValue(ctx, traceKey{}, traceContext{traceparent, tracestate})
}

func setTraceHeaders(ctx context.Context, h http.Header) {
	tc, ok := ctx.Value(traceKey{}).(traceContext)
	if !ok || tc.traceparent == "" {
		return
	}
	h.Set("traceparent", tc.traceparent)
	if tc.tracestate != "" {
		h.Set("tracestate", tc.tracestate)
	}
}

// PauseTopic stops the deliveries of topic (adds go on); a no-op when it is paused.
// Needs an admin token when tokens are configured.
func (c *Client) PauseTopic(ctx context.Context, topic string) (*TopicStats, error) {
	return c.topicAction(ctx, topic, "/pause")
}

// ResumeTopic delivers topic's tasks again, what fell due meanwhile oldest first.
func (c *Client) ResumeTopic(ctx context.Context, topic string) (*TopicStats, error) {
	return c.topicAction(ctx, topic, "/resume")
}

func (c *Client) topicAction(ctx context.Context, topic, action string) (*TopicStats, error) {
	var out TopicStats
	if _, err := c.do(ctx, "POST", topicPath(topic)+action, nil, true, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
