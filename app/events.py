"""Live events: what one web process learns (a call arrives) reaches every operator's browser,
whichever web process holds its server-sent-events connection.

``make_bus(settings)`` picks the broker: Redis pub/sub when ``REDIS_URL`` is set, else PostgreSQL
LISTEN/NOTIFY when the database is PostgreSQL, else in-process only (SQLite, one web process).
The app starts the bus in its lifespan; handlers call ``publish`` (from any thread); an SSE
handler does::

    async with bus.subscribe() as sub:
        async for topic, data in sub:
            ...  # send it to the browser
    if sub.missed_events:
        ...  # tell the browser to reload: it missed something

Delivery is best effort and immediate: an event is sent when ``publish`` is called, not when the
caller's database transaction commits, so publish after committing what the event announces.
Events carry identifiers, not contents: a payload must stay under 8000 bytes of JSON (the
PostgreSQL NOTIFY limit, enforced on every backend so SQLite development finds it too).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import os
import socket
import threading
from urllib.parse import urlsplit

import psycopg2
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("dengon.events")

REDIS_CHANNEL = "dengon:events"
POSTGRES_CHANNEL = "dengon_events"
MAX_PAYLOAD = 7999  # bytes; PostgreSQL refuses a NOTIFY payload of 8000 or more
QUEUE_SIZE = 1000  # events a subscriber may fall behind before it is ended with missed_events
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1, 2, 5)  # seconds, then 5 s between attempts

# A listening connection that dies quietly (a cable, not a server restart) is noticed in ~25 s.
KEEPALIVE = {"idle": 10, "interval": 5, "count": 3}

_names = itertools.count(1)


class Subscription:
    """Every event published after ``async with`` entered, in order, as ``(topic, data)``.

    Iteration ends when the bus stops (after the events already queued), or at once, with
    ``missed_events`` set, when events may have been lost: this subscriber fell ``QUEUE_SIZE``
    events behind (the others are not held up), or the bus lost its broker connection while
    this subscription was open. ``data`` is shared between subscribers: treat it as read-only.
    Use it in the event loop that started the bus.
    """

    def __init__(self, bus: "EventBus"):
        self._bus = bus
        self._events: collections.deque = collections.deque()
        self._wakeup = asyncio.Event()
        self._ended = False
        self.missed_events = False

    async def __aenter__(self) -> "Subscription":
        self._bus._subscriptions.add(self)
        if self._bus._stopped:
            self._end(missed=False)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._bus._subscriptions.discard(self)

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> tuple[str, dict]:
        while not self._events:
            if self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._events.popleft()

    def _offer(self, event: tuple[str, dict]) -> None:
        if self._ended:
            return
        if len(self._events) >= QUEUE_SIZE:
            log.warning("a subscriber fell %d events behind; ending it so its browser reloads", QUEUE_SIZE)
            self._end(missed=True)
            return
        self._events.append(event)
        self._wakeup.set()

    def _end(self, *, missed: bool) -> None:
        if missed:
            self._events.clear()
            self.missed_events = True
        self._ended = True
        self._wakeup.set()


class EventBus:
    """In-process fan-out: subscribers in this process receive events published in this process.

    The broker-backed subclasses send every event through the broker, their own too, so each
    subscriber receives it exactly once whichever process published it.
    """

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        # Shown in pg_stat_activity / CLIENT LIST, so an operator can tell the connections apart.
        self.connection_name = f"dengon-events-{os.getpid()}-{next(_names)}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True
        self._loop = None
        self._end_subscriptions(missed=False)

    def subscribe(self) -> Subscription:
        return Subscription(self)

    def publish(self, topic: str, data: dict) -> None:
        """Send an event to every subscriber; safe from any thread, never waits for subscribers.

        Raises TypeError/ValueError for data that is not JSON or too large; a broker that cannot
        be reached is logged, not raised: the caller's work (a call recorded) matters more.
        """
        payload = json.dumps([topic, data], ensure_ascii=False, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError(f"event {topic!r}: {len(payload.encode())} bytes of JSON, more than the "
                             f"{MAX_PAYLOAD} a live event may carry; send identifiers, not contents")
        try:
            self._send(payload)
        except Exception as e:
            log.warning("live event %r not sent: %s", topic, _reason(e))

    def _send(self, payload: str) -> None:
        loop = self._loop
        if loop is None:
            return  # not started (or stopped): nobody in this process can be listening
        try:
            loop.call_soon_threadsafe(self._receive, payload)
        except RuntimeError:
            pass  # the loop closed while we were publishing

    def _receive(self, payload: str | bytes) -> None:
        """Fan an event out to this process's subscribers (in the event loop)."""
        try:
            topic, data = json.loads(payload)
        except ValueError:
            log.warning("ignored a malformed event: %.200r", payload)
            return
        for subscription in list(self._subscriptions):
            subscription._offer((topic, data))

    def _end_subscriptions(self, *, missed: bool) -> None:
        for subscription in list(self._subscriptions):
            subscription._end(missed=missed)


class _BrokerBus(EventBus):
    """Listens on one broker connection per process, reconnecting with backoff when it drops.

    Subscriptions open while the connection is down are ended with ``missed_events``, when it
    drops and again when it comes back, so no browser silently misses a call.
    """

    broker = "broker"
    connection_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await super().start()
        try:
            await self._connect()
            connected = True
        except self.connection_errors as e:
            log.error("live events: cannot listen on %s (%s); retrying in the background", self.broker, _reason(e))
            connected = False
        self._task = asyncio.get_running_loop().create_task(self._keep_listening(connected))

    async def stop(self) -> None:
        await super().stop()
        if self._task:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2)
            self._task = None
        await self._disconnect()
        self._close_publisher()

    async def _keep_listening(self, connected: bool) -> None:
        failures = 0
        while True:
            if connected:
                error = await self._until_lost()
                log.warning("live events: lost the %s connection (%s); reconnecting", self.broker, _reason(error))
                self._end_subscriptions(missed=True)
                await self._disconnect()
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            try:
                await self._connect()
            except Exception as e:  # keep trying whatever the cause: this task is all that listens
                failures += 1
                connected = False
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("live events: %s still unreachable after %d attempts: %s", self.broker, failures, _reason(e))
                continue
            log.info("live events: listening on %s again", self.broker)
            failures = 0
            connected = True
            self._end_subscriptions(missed=True)  # those opened while we were deaf

    async def _connect(self) -> None:
        """Listen; return once the broker has confirmed it."""
        raise NotImplementedError

    async def _until_lost(self) -> BaseException | None:
        """Deliver events until the connection fails; return the failure."""
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError

    def _close_publisher(self) -> None:
        raise NotImplementedError


class RedisEventBus(_BrokerBus):
    """Redis pub/sub on ``dengon:events`` (server-wide: Redis pub/sub ignores the db number)."""

    broker = "Redis"
    connection_errors = (redis.ConnectionError, redis.TimeoutError, OSError)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # Thread-safe (a connection pool); one retry covers a pooled connection gone stale.
        self._publisher = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=1, client_name=self.connection_name,
            retry=Retry(NoBackoff(), 1))
        self._client: redis.asyncio.Redis | None = None
        self._pubsub = None

    def _send(self, payload: str) -> None:
        self._publisher.publish(REDIS_CHANNEL, payload)

    async def _connect(self) -> None:
        # No retries inside redis-py: a silent reconnect would hide that events were missed.
        client = redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=2, client_name=self.connection_name,
            socket_keepalive=True, socket_keepalive_options=_tcp_keepalive_options(),
            retry=AsyncRetry(NoBackoff(), 0))
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(REDIS_CHANNEL)
            while (message := await pubsub.get_message(timeout=5)) is None or message["type"] != "subscribe":
                if message is None:
                    raise redis.TimeoutError("no confirmation of SUBSCRIBE within 5 s")
        except BaseException:
            await _quietly(pubsub.aclose(), client.aclose())
            raise
        self._client, self._pubsub = client, pubsub

    async def _until_lost(self) -> BaseException | None:
        try:
            while True:
                message = await self._pubsub.get_message(timeout=None)
                if message and message["type"] == "message":
                    self._receive(message["data"])
        except Exception as e:  # whatever broke, a fresh connection is the remedy
            return e

    async def _disconnect(self) -> None:
        pubsub, client, self._pubsub, self._client = self._pubsub, self._client, None, None
        if client:
            await _quietly(pubsub.aclose(), client.aclose())

    def _close_publisher(self) -> None:
        self._publisher.close()


class PostgresEventBus(_BrokerBus):
    """PostgreSQL LISTEN/NOTIFY on ``dengon_events`` (per database).

    One autocommit connection LISTENs; the event loop watches its socket (``add_reader``), so a
    notification is handed to subscribers without a thread hop. NOTIFY goes out on the bus's own
    autocommit connections (a few kept idle for reuse), never the caller's transaction.
    """

    broker = "PostgreSQL"
    connection_errors = (psycopg2.OperationalError, psycopg2.InterfaceError, OSError)
    IDLE_PUBLISHERS = 4

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._listener = None
        self._listener_fd: int | None = None
        self._lost: asyncio.Future | None = None
        self._idle: list = []
        self._idle_lock = threading.Lock()
        # At most this many publishing connections at once: a burst of calls waits a NOTIFY's time
        # for one instead of opening a connection per thread (README "Running in production").
        self._publishers = threading.BoundedSemaphore(self.IDLE_PUBLISHERS)

    def _open(self, connect_timeout: int):
        # libpq reads the postgresql:// URL itself, query options such as sslmode included.
        conn = psycopg2.connect(self.url, application_name=self.connection_name, connect_timeout=connect_timeout,
                                keepalives=1, keepalives_idle=KEEPALIVE["idle"],
                                keepalives_interval=KEEPALIVE["interval"], keepalives_count=KEEPALIVE["count"])
        conn.autocommit = True
        return conn

    def _send(self, payload: str) -> None:
        with self._publishers:
            self._send_on_one(payload)

    def _send_on_one(self, payload: str) -> None:
        with self._idle_lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                self._notify(conn, payload)
                return
            except self.connection_errors:
                conn.close()  # gone stale (a server restart): once more on a fresh connection
        self._notify(self._open(connect_timeout=2), payload)

    def _notify(self, conn, payload: str) -> None:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_notify(%s, %s)", (POSTGRES_CHANNEL, payload))
        except BaseException:
            conn.close()
            raise
        with self._idle_lock:
            if len(self._idle) < self.IDLE_PUBLISHERS:
                self._idle.append(conn)
                return
        conn.close()

    async def _connect(self) -> None:
        def listen():
            conn = self._open(connect_timeout=5)
            try:
                conn.notifies = collections.deque()
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {POSTGRES_CHANNEL}")
            except BaseException:
                conn.close()
                raise
            return conn

        conn = await asyncio.to_thread(listen)
        loop = asyncio.get_running_loop()
        self._listener, self._listener_fd, self._lost = conn, conn.fileno(), loop.create_future()
        loop.add_reader(self._listener_fd, self._on_readable)
        self._on_readable()  # notifications that arrived with the LISTEN's reply

    def _on_readable(self) -> None:
        conn = self._listener
        try:
            conn.poll()
        except self.connection_errors as e:
            asyncio.get_running_loop().remove_reader(self._listener_fd)
            if not self._lost.done():
                self._lost.set_result(e)
            return
        while conn.notifies:
            self._receive(conn.notifies.popleft().payload)

    async def _until_lost(self) -> BaseException | None:
        return await self._lost

    async def _disconnect(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        asyncio.get_running_loop().remove_reader(self._listener_fd)
        conn.close()

    def _close_publisher(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def make_bus(settings) -> EventBus:
    """The bus for these settings: Redis, else PostgreSQL, else in-process."""
    if settings.REDIS_URL:
        return RedisEventBus(settings.REDIS_URL)
    if urlsplit(settings.DATABASE_URL).scheme in ("postgresql", "postgres"):
        return PostgresEventBus(settings.DATABASE_URL)
    return EventBus()


def _tcp_keepalive_options() -> dict[int, int]:
    names = {"TCP_KEEPIDLE": "idle", "TCP_KEEPINTVL": "interval", "TCP_KEEPCNT": "count"}
    return {getattr(socket, name): KEEPALIVE[key] for name, key in names.items() if hasattr(socket, name)}


def _reason(error: BaseException | None) -> str:
    """The first line of an error: libpq's messages run to several."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


async def _quietly(*closing) -> None:
    """Close connections without waiting long or failing: they are being given up on anyway."""
    for aw in closing:
        try:
            await asyncio.wait_for(aw, timeout=1)
        except Exception:
            pass
