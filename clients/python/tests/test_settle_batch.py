"""Scenario 9: batch ack and nack against the real delayq binary."""

import time

import pytest

import delayq
from delayq import Client, NewTask


# 9. Batch ack and nack: each item applied or refused on its own, in request order; a
# request refused as a whole is the typed error.
def test_scenario9_batch_ack_nack(start_server):
    c = Client(start_server().url)
    c.add_batch("batch", [NewTask(payload=f"t{i}") for i in range(3)])
    tasks = []
    for _ in range(5):  # a pull answers with the tasks ready then
        tasks += c.pull("batch", max=3 - len(tasks), wait_ms=5000, lease_ms=10_000)
        if len(tasks) == 3:
            break
    a, b, d = tasks
    acked = c.ack_batch([(a.id, a.lease), (b.id, d.lease)])
    assert [r.id for r in acked] == [a.id, b.id]
    assert acked[0].state == "done" and acked[0].error is None
    assert isinstance(acked[1].error, delayq.ConflictError) and acked[1].error.status == 409
    assert "lease" in acked[1].error.message
    nacked = c.nack_batch([(b.id, b.lease, 0), (d.id, d.lease, 3_600_000)])
    assert [r.error for r in nacked] == [None, None]
    assert nacked[0].state in ("due", "scheduled") and nacked[1].state == "scheduled"
    task = c.get(d.id)
    assert task.state == "scheduled" and task.due_at_ms > (time.time() + 3000) * 1000
    with pytest.raises(delayq.InvalidError) as e:
        c.ack_batch([])
    assert "acks must hold 1 to 1000 items" in e.value.message
