"""Scenario 8: schedules against the real delayq binary."""

import time

import pytest

import delayq
from delayq import Client, ScheduleSpec, ScheduleTask


def assert_spacing(next_ms, every_ms):
    assert len(next_ms) == 5, next_ms
    assert [b - a for a, b in zip(next_ms, next_ms[1:])] == [every_ms] * 4, next_ms


# 8. Schedules: put (created), get with the next fire times, list by topic page by page, a
# pull receives the task an occurrence made, pause, resume, trigger, replace, delete; an
# invalid cron is the invalid error with the server's message.
def test_scenario8_schedules(start_server):
    c = Client(start_server().url)
    spec = ScheduleSpec(topic="ticks", every_ms=1000,
                        task=ScheduleTask(payload={"beat": True}, max_attempts=3))
    put, created = c.put_schedule("heartbeat", spec)
    assert created and put.every_ms == 1000 and put.task.kind == "pull"
    assert put.task.max_attempts == 3
    assert_spacing(put.next_ms, 1000)
    got = c.get_schedule("heartbeat")
    assert got.topic == "ticks" and not got.paused and got.last_task_id is None
    assert_spacing(got.next_ms, 1000)
    # Two more: one in the topic (a six-field cron, paused), one elsewhere.
    _, created = c.put_schedule("nightly", ScheduleSpec(
        topic="ticks", cron="30 0 3 * * *", time_zone="Europe/London", paused=True,
        task=ScheduleTask(payload="nightly")))
    assert created
    c.put_schedule("other", ScheduleSpec(topic="elsewhere", cron="0 0 1 1 *",
                                         task=ScheduleTask(payload=1)))
    paged, cursor = [], None
    for _ in range(4):
        page, cursor = c.list_schedules("ticks", cursor, limit=1)
        paged += [s.name for s in page]
        if cursor is None:
            break
    assert cursor is None and paged == ["heartbeat", "nightly"]
    assert [s.name for s in c.iter_schedules("ticks", page_size=1)] == ["heartbeat", "nightly"]
    # The first occurrence, due about a second after the put.
    tasks = c.pull("ticks", max=1, wait_ms=5000, lease_ms=10_000)
    assert len(tasks) == 1 and tasks[0].payload == {"beat": True}
    done = c.ack(tasks[0].id, tasks[0].lease)
    assert done.schedule == "heartbeat" and done.occurrence_ms == put.next_ms[0]
    assert done.due_at_ms >= done.occurrence_ms and done.max_attempts == 3
    paused = c.pause_schedule("heartbeat")
    assert paused.paused and paused.next_ms == []
    got = c.get_schedule("heartbeat")
    assert got.paused and got.next_ms == []
    resumed = c.resume_schedule("heartbeat")
    assert not resumed.paused
    assert_spacing(resumed.next_ms, 1000)
    before = int(time.time() * 1000)
    triggered = c.trigger_schedule("heartbeat")
    assert triggered.schedule == "heartbeat" and triggered.occurrence_ms >= before - 1000
    now = c.get(triggered.id)
    assert now.schedule == "heartbeat" and now.occurrence_ms == triggered.occurrence_ms
    assert now.state == "due"
    spec.every_ms = 2000
    replaced, created = c.put_schedule("heartbeat", spec)
    assert not created and replaced.every_ms == 2000
    assert_spacing(replaced.next_ms, 2000)
    assert c.delete_schedule("heartbeat").name == "heartbeat"
    with pytest.raises(delayq.NotFoundError):
        c.get_schedule("heartbeat")
    with pytest.raises(delayq.InvalidError) as e:
        c.put_schedule("bad", ScheduleSpec(topic="ticks", cron="0 25 * * *",
                                           task=ScheduleTask(payload="x")))
    assert e.value.status == 400 and 'cron: hour field "25"' in e.value.message
