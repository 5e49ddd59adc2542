"""W3C trace context on adds, pulls and GET; topic pause and resume."""

import pytest

import delayq
from delayq import Client, NewTask

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
STATE = "congo=t61rcWkgMzE"


def test_trace_context_on_add_pull_and_topic_pause(start_server):
    client = Client(start_server().url)
    added = client.add("traced", NewTask("p"), traceparent=PARENT, tracestate=STATE)
    task = client.get(added.id)
    assert (task.traceparent, task.tracestate) == (PARENT, STATE)

    ids = client.add_batch("batch", [NewTask("a"), NewTask("b", traceparent=OTHER_PARENT)],
                           traceparent=PARENT)
    assert client.get(ids[0]).traceparent == PARENT
    own = client.get(ids[1])
    assert (own.traceparent, own.tracestate) == (OTHER_PARENT, None)
    assert client.get(client.add("plain", NewTask("q")).id).traceparent is None

    leased = client.pull("traced", max=1, wait_ms=5000)
    assert [(t.traceparent, t.tracestate) for t in leased] == [(PARENT, STATE)]

    with pytest.raises(delayq.InvalidError) as refused:
        client.add("traced", NewTask("p"), traceparent=PARENT.upper())
    assert "traceparent header" in str(refused.value)

    assert client.pause_topic("traced", traceparent=PARENT)["paused"] is True
    assert client.resume_topic("traced", traceparent=PARENT)["paused"] is False
