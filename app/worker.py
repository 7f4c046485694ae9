"""The background worker (huey): Redis when REDIS_URL is set, otherwise a SQLite queue file.

Every minute it makes the scheduled reports that are due and sends (or retries) deliveries;
every hour it queues last week's QA sample; it also keeps the database tidy.
Stopping it (SIGTERM, Ctrl-C) lets running tasks finish; queued tasks stay in the queue.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from . import db, settings as settings_module

log = logging.getLogger("dengon.worker")


def make_huey(settings) -> Huey:
    if settings.REDIS_URL:
        return RedisHuey("dengon", url=settings.REDIS_URL)
    parts = urlsplit(settings.DATABASE_URL)
    # Beside the SQLite database, so each database (and each test) has its own queue.
    folder = Path(parts.path[1:]).parent if parts.scheme == "sqlite" and parts.path != "/:memory:" else Path("var")
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("dengon", filename=str(folder / "queue.db"))


huey = make_huey(settings_module.load())


@huey.periodic_task(crontab(minute="*/10"))
def purge_expired() -> None:
    """Forget expired sessions, log-in attempts older than the throttling window needs, and API
    idempotency keys past their 24 hours."""
    from .accounts.models import LoginAttempt, Session
    from .api.models import IdempotencyKey

    with db.db.connection_context():
        sessions = Session.delete().where(Session.expires_at < db.utcnow()).execute()
        attempts = LoginAttempt.delete().where(LoginAttempt.at < db.utcnow() - dt.timedelta(days=1)).execute()
        keys = IdempotencyKey.purge()
    log.info("purged %d expired sessions, %d old log-in attempts and %d idempotency keys", sessions, attempts, keys)


_dispatching = threading.Lock()


@huey.periodic_task(crontab())  # every minute
def dispatch() -> None:
    """Make the reports whose time has come, and send (or retry) every delivery that is due."""
    from .reports import service as reports

    if not _dispatching.acquire(blocking=False):
        # A big report time can outlast the minute: the next dispatch would render it all again.
        log.info("dispatch: the previous one is still running")
        return
    try:
        settings = settings_module.load()
        with db.db.connection_context():
            runs, outcome = reports.dispatch(settings)
    finally:
        _dispatching.release()
    if runs or outcome:
        log.info("dispatch: %d reports made; deliveries %s", len(runs), outcome or "none due")


@huey.periodic_task(crontab(minute="7"))
def qa_sample() -> None:
    """Queue last week's QA sample. Hourly rather than once on Monday, so a worker that was down then
    still does it; a run after the first adds nothing."""
    from .qa import service as qa

    with db.db.connection_context():
        queued = qa.sample_weeks()
    if queued:
        log.info("qa: %d messages queued for review", queued)


@huey.periodic_task(crontab())  # every minute
def refresh_figures() -> None:
    """Bring the figures' day rows up to date (stats/rollup.py): rebuild the firms that need it (readers
    never do) and take the notes in, so that no reader has much to recompute."""
    from .stats import rollup

    settings = settings_module.load()
    with db.db.connection_context():
        notes = rollup.refresh(settings.service_level_seconds)
    if notes:
        log.info("figures: %d changes taken into the day rows", notes)


class _Consumer(Consumer):
    def start(self):
        super().start()
        # Only now are the signal handlers in place: from here a SIGTERM is a clean stop.
        log.info("worker ready")


def run(settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Start-up objects live as long as the worker: keep them out of every collection (bench/reports.py).
    gc.collect()
    gc.freeze()
    log.info("worker starting (%s queue)", "Redis" if settings.REDIS_URL else "SQLite")
    # SIGTERM (what process managers send) finishes running tasks before exiting.
    _Consumer(huey, workers=2, worker_type="thread", periodic=True, graceful_signal="TERM").run()
