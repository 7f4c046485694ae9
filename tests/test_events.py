"""Live events over the real brokers: in-process, Redis (127.0.0.1:6379) and PostgreSQL
LISTEN/NOTIFY. Two buses in one test stand for two web processes; one test uses two real ones.
Events carry a per-test marker, so other runs sharing the broker do not disturb the counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis

from app import events, settings as settings_module

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"
_env_db = os.environ.get("DATABASE_URL", "")
POSTGRES_URL = (_env_db if urlsplit(_env_db).scheme in ("postgresql", "postgres")
                else "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["in-process", "redis", "postgres"]


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1).close()
        return True
    except OSError:
        return False


def _environ(backend: str, tmp_path: Path) -> dict[str, str]:
    environ = {"SECRET_KEY": "test-secret-key-" + "x" * 32, "DATABASE_URL": f"sqlite:///{tmp_path}/dengon.db"}
    if backend == "redis":
        if not _answers(REDIS_URL, 6379):
            pytest.skip("no Redis server on 127.0.0.1:6379")
        environ["REDIS_URL"] = REDIS_URL
    elif backend == "postgres":
        if not _answers(POSTGRES_URL, 5432):
            parts = urlsplit(POSTGRES_URL)
            pytest.skip(f"no PostgreSQL server on {parts.hostname}:{parts.port or 5432}")
        environ["DATABASE_URL"] = POSTGRES_URL
    return environ


@pytest.fixture
def new_bus(request, tmp_path):
    """Make buses of the test's backend from settings, as the app does; stopped at the end."""
    environ = _environ(request.param, tmp_path)
    settings = settings_module.load(environ, var_dir=tmp_path / "var")
    made = []

    def make() -> events.EventBus:
        made.append(events.make_bus(settings))
        return made[-1]

    make.environ = environ
    yield make
    for bus in made:
        asyncio.run(bus.stop())  # a second stop is harmless; this one closes publish-only buses


@contextlib.asynccontextmanager
async def running(*buses):
    for bus in buses:
        await bus.start()
    try:
        yield buses
    finally:
        for bus in buses:
            await bus.stop()


def run(coro, timeout: float = 20):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def next_event(sub, timeout: float = 2):
    return await asyncio.wait_for(sub.__anext__(), timeout)


async def events_until_fence(sub, marker: str, timeout: float = 5) -> list[tuple[str, dict]]:
    """This test's events up to (not including) its "fence" event."""
    received = []
    while True:
        topic, data = await next_event(sub, timeout)
        if isinstance(data, dict) and data.get("marker") == marker:
            if topic == "fence":
                return received
            received.append((topic, data))


async def wait_for_event(sub, marker: str, topic: str, timeout: float = 2) -> None:
    async def find():
        while True:
            got, data = await sub.__anext__()
            if got == topic and isinstance(data, dict) and data.get("marker") == marker:
                return
    await asyncio.wait_for(find(), timeout)


def in_thread(fn, *args):
    thread = threading.Thread(target=fn, args=args)
    thread.start()
    thread.join()


@pytest.mark.parametrize("new_bus", BACKENDS, indirect=True)
def test_a_subscriber_receives_events_published_from_another_thread(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus()) as (bus,), bus.subscribe() as sub:
            in_thread(bus.publish, "call.ringing", {"marker": marker, "firm": "山田法律事務所"})
            in_thread(bus.publish, "fence", {"marker": marker})
            return await events_until_fence(sub, marker)

    assert run(scenario()) == [("call.ringing", {"marker": marker, "firm": "山田法律事務所"})]


@pytest.mark.parametrize("new_bus", BACKENDS, indirect=True)
def test_every_subscriber_receives_every_event_in_order(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus()) as (bus,), bus.subscribe() as first, bus.subscribe() as second:
            for n in range(3):
                in_thread(bus.publish, "call.ringing", {"marker": marker, "n": n})
            bus.publish("fence", {"marker": marker})
            return await events_until_fence(first, marker), await events_until_fence(second, marker)

    expected = [("call.ringing", {"marker": marker, "n": n}) for n in range(3)]
    assert run(scenario()) == (expected, expected)


@pytest.mark.parametrize("new_bus", BACKENDS, indirect=True)
def test_an_event_published_before_subscribing_is_not_received(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus()) as (bus,), bus.subscribe() as early:
            bus.publish("before", {"marker": marker})
            # Once an earlier subscriber has it, the event has been fanned out in this process.
            await wait_for_event(early, marker, "before")
            async with bus.subscribe() as late:
                bus.publish("after", {"marker": marker})
                bus.publish("fence", {"marker": marker})
                return await events_until_fence(late, marker)

    assert run(scenario()) == [("after", {"marker": marker})]


@pytest.mark.parametrize("new_bus", BACKENDS, indirect=True)
def test_stop_returns_promptly_and_ends_open_subscriptions(new_bus):
    async def scenario():
        async with running(new_bus()) as (bus,):
            async def browser():
                async with bus.subscribe() as sub:
                    async for _ in sub:
                        pass
                return sub.missed_events

            browsers = [asyncio.create_task(browser()) for _ in range(3)]
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await bus.stop()
            stopped_in = time.monotonic() - started
            return stopped_in, await asyncio.wait_for(asyncio.gather(*browsers), 1)

    stopped_in, missed = run(scenario())
    assert stopped_in < 0.5
    assert missed == [False, False, False]


@pytest.mark.parametrize("new_bus", BACKENDS, indirect=True)
def test_publishing_from_many_threads_at_once_delivers_each_event_exactly_once(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus()) as (bus,), bus.subscribe() as sub:
            def worker(w):
                for n in range(25):
                    bus.publish("call.ringing", {"marker": marker, "id": f"{w}-{n}"})

            threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
            await asyncio.to_thread(lambda: ([t.start() for t in threads], [t.join() for t in threads]))
            bus.publish("fence", {"marker": marker})
            return await events_until_fence(sub, marker)

    ids = [data["id"] for _, data in run(scenario())]
    assert sorted(ids) == sorted(f"{w}-{n}" for w in range(8) for n in range(25))


@pytest.mark.parametrize("new_bus", ["in-process"], indirect=True)
def test_a_slow_subscriber_is_ended_with_missed_events_without_holding_up_others(new_bus):
    async def scenario():
        async with running(new_bus()) as (bus,), bus.subscribe() as slow, bus.subscribe() as keen:
            received = 0
            for n in range(events.QUEUE_SIZE + 10):
                bus.publish("call.ringing", {"n": n})
                await next_event(keen)
                received += 1
            leftovers = [event async for event in slow]
            return received, leftovers, slow.missed_events, keen.missed_events

    received, leftovers, slow_missed, keen_missed = run(scenario())
    assert received == events.QUEUE_SIZE + 10
    assert leftovers == [] and slow_missed is True
    assert keen_missed is False


@pytest.mark.parametrize("new_bus", ["in-process"], indirect=True)
def test_an_event_too_large_for_postgresql_notify_is_refused_on_every_backend(new_bus):
    bus = new_bus()
    with pytest.raises(ValueError, match="send identifiers, not contents"):
        bus.publish("message.saved", {"body": "伝" * 3000})
    with pytest.raises(TypeError):
        bus.publish("message.saved", {"at": object()})


@pytest.mark.parametrize("new_bus", ["in-process"], indirect=True)
def test_publishing_on_a_bus_not_started_or_stopped_is_harmless(new_bus):
    async def scenario():
        bus = new_bus()
        bus.publish("early", {})
        await bus.start()
        await bus.stop()
        bus.publish("late", {})
        async with bus.subscribe() as sub:
            return [event async for event in sub]

    assert run(scenario()) == []


def test_make_bus_picks_redis_then_postgresql_then_in_process(tmp_path):
    def bus_for(**environ):
        return events.make_bus(settings_module.load(
            {"SECRET_KEY": "k" * 40, **environ}, var_dir=tmp_path))

    assert type(bus_for(REDIS_URL=REDIS_URL, DATABASE_URL=POSTGRES_URL)) is events.RedisEventBus
    assert type(bus_for(DATABASE_URL=POSTGRES_URL)) is events.PostgresEventBus
    assert type(bus_for(DATABASE_URL=f"sqlite:///{tmp_path}/x.db")) is events.EventBus


@pytest.mark.parametrize("new_bus", ["redis", "postgres"], indirect=True)
def test_an_event_from_one_process_reaches_subscribers_in_both_exactly_once(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus(), new_bus()) as (a, b), a.subscribe() as on_a, b.subscribe() as on_b:
            in_thread(a.publish, "call.ringing", {"marker": marker, "to": "+81311112222"})
            a.publish("fence", {"marker": marker})
            return await events_until_fence(on_a, marker), await events_until_fence(on_b, marker)

    expected = [("call.ringing", {"marker": marker, "to": "+81311112222"})]
    assert run(scenario()) == (expected, expected)


async def _rest(sub) -> list:
    return [event async for event in sub]


def _drop_connections(environ: dict[str, str], name: str) -> int:
    """Make the broker drop every connection of one bus, as a server restart would."""
    if "REDIS_URL" in environ:
        admin = redis.Redis.from_url(environ["REDIS_URL"])
        ids = [c["id"] for c in admin.client_list() if c.get("name") == name]
        for client_id in ids:
            admin.client_kill_filter(_id=client_id)
        admin.close()
        return len(ids)
    conn = psycopg2.connect(environ["DATABASE_URL"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,))
        count = cur.rowcount
    conn.close()
    return count


@pytest.mark.parametrize("new_bus", ["redis", "postgres"], indirect=True)
def test_a_bus_listens_again_after_the_broker_drops_it_and_open_subscribers_learn_they_missed_events(new_bus):
    marker = uuid.uuid4().hex

    async def scenario():
        async with running(new_bus(), new_bus()) as (bus, other):
            async with bus.subscribe() as open_during_drop:
                bus.publish("fence", {"marker": marker})  # leaves an idle publishing connection to go stale
                await events_until_fence(open_during_drop, marker)
                assert _drop_connections(new_bus.environ, bus.connection_name) >= 2
                leftovers = await asyncio.wait_for(_rest(open_during_drop), 5)
            assert open_during_drop.missed_events and leftovers == []

            deadline = time.monotonic() + 10
            probe = uuid.uuid4().hex  # its own marker: a late probe must not count as this test's events
            while True:  # until the bus listens again
                async with bus.subscribe() as sub:
                    other.publish("ping", {"marker": probe})
                    try:
                        await wait_for_event(sub, probe, "ping", timeout=0.5)
                        break
                    except (asyncio.TimeoutError, StopAsyncIteration):
                        assert time.monotonic() < deadline, "the bus did not listen again within 10 s"
            async with bus.subscribe() as sub, other.subscribe() as on_other:
                bus.publish("after", {"marker": marker})  # through a fresh publishing connection
                bus.publish("fence", {"marker": marker})
                return await events_until_fence(sub, marker), await events_until_fence(on_other, marker)

    expected = [("after", {"marker": marker})]
    assert run(scenario(), timeout=30) == (expected, expected)


CHILD = r"""
import asyncio, json, sys
from pathlib import Path
from app import events, settings

async def main():
    bus = events.make_bus(settings.load(var_dir=Path(sys.argv[1])))
    await bus.start()
    async with bus.subscribe() as sub:
        print("ready", flush=True)
        async for topic, data in sub:
            print(json.dumps([topic, data], ensure_ascii=False), flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("new_bus", ["redis", "postgres"], indirect=True)
def test_an_event_published_in_one_os_process_reaches_another_within_a_second(new_bus, tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "var")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        encoding="utf-8", env={"PATH": os.environ["PATH"], "PYTHONIOENCODING": "utf-8", **new_bus.environ})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in child.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=30) == "ready"
        marker = uuid.uuid4().hex
        # The worker's way: a bus that is never started can still publish through the broker.
        new_bus().publish("call.ringing", {"marker": marker, "firm": "さくら内科クリニック"})
        published = time.monotonic()
        while True:
            try:
                line = lines.get(timeout=max(0.0, published + 1 - time.monotonic()))
            except queue.Empty:
                pytest.fail("the other process did not print the event within 1 s")
            if marker in line:
                break
        assert json.loads(line) == ["call.ringing", {"marker": marker, "firm": "さくら内科クリニック"}]
    finally:
        child.terminate()
        child.wait(timeout=10)
        child.stdout.close()
