"""The call spool: provider webhooks kept on local disk while the database is unavailable, replayed
into it, in the order they came, as soon as it is back.

Why: a caller whose inbound-call webhook fails hears an error instead of ringing, and the provider
does not retry it. So when the database cannot be had (server down or unreachable, the pool's wait
timed out: ``db.UNAVAILABLE``) the webhook keeps the provider's request here and answers at once as if
all were well (the caller hears the queue's ringback). The call's later webhooks (hung up in the queue,
ended, a voicemail) are kept too, behind it, so that replayed in order they leave the call as the
provider left it, not a ghost still waiting.

How: one small JSON file per webhook, ``<ns since epoch>-<pid>-<n>.json``, written to a temporary
name, fsynced and renamed (with the folder fsynced), so that a file either is whole or is not there,
and survives a crash or power cut as a saved call does. Names sort in arrival order across processes.
A background task in each web process (``keep_replaying``, started in the app's lifespan) replays
the files in that order, each under ``db.as_of`` its arrival time, and deletes each once done; an
flock lets one process replay at a time. Replaying is safe to repeat (``Call.arrive`` is idempotent
per CallSid, the ends are conditional updates), so a crash between commit and delete costs nothing.
While a backlog exists, new webhooks of the same kinds join it rather than overtake it.
A file that fails for another reason than the database being unavailable moves to ``failed/`` and
is logged, so it cannot hold the others back.

Where: ``spool/calls/`` in the folder of the SQLite file, or beside OUTBOX_DIR for PostgreSQL (both
``var/spool/calls`` by default): local disk of the web host, like the SQLite queue and the outbox.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from .. import db

log = logging.getLogger("dengon.spool")

REPLAY_EVERY = 1.0  # seconds between looks at the spool: a backlog is replayed this soon after the database is back
GIVE_UP_AFTER = 3  # replays of one file failing as if the database were away, while it answers: that file is the problem

_numbers = itertools.count()


def folder_for(settings) -> Path:
    parts = urlsplit(settings.DATABASE_URL)
    if parts.scheme == "sqlite" and parts.path not in ("/:memory:", ":memory:"):
        base = Path(parts.path[1:] if parts.path.startswith("/") else parts.path).parent
    else:
        base = Path(settings.OUTBOX_DIR).parent
    return base / "spool" / "calls"


class Spool:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        # Set when this process found the database unavailable; cleared when the backlog is replayed.
        # Meanwhile webhooks come here at once rather than each wait for a database that is not there.
        self.database_down = False
        self._failures: dict[str, int] = {}

    @classmethod
    def for_settings(cls, settings) -> "Spool":
        return cls(folder_for(settings))

    def keep(self, hook: str, params: dict, at: dt.datetime | None = None) -> Path:
        """Keep one webhook (its handler's name and form), durably, before the provider is answered."""
        at = at or db.utcnow()
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_numbers)}.json"
        data = json.dumps({"hook": hook, "at": at.isoformat(), "params": params}, ensure_ascii=False)
        tmp = self.folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, self.folder / name)
        self._sync_folder()
        return self.folder / name

    def entries(self) -> list[Path]:
        """The webhooks kept, oldest first."""
        try:
            return sorted(p for p in self.folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def backlog(self) -> bool:
        """Whether webhooks wait here (in this process's view or on disk): new ones go behind them."""
        if self.database_down:
            return True
        try:
            with os.scandir(self.folder) as found:
                return any(e.name.endswith(".json") and not e.name.startswith(".") for e in found)
        except FileNotFoundError:
            return False

    def replay(self, run: Callable[[str, dict, dt.datetime], None]) -> int:
        """Replay every kept webhook in order with ``run(hook, params, at)``; returns how many were done.
        Stops at the first sign the database is still unavailable (the rest wait for the next turn)."""
        if not self.folder.exists():
            self.database_down = False
            return 0
        with open(self.folder / ".replay.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is replaying them
            done = 0
            if not _database_answers():
                return 0
            for path in self.entries():
                try:
                    entry = json.loads(path.read_text())
                    run(entry["hook"], entry["params"], dt.datetime.fromisoformat(entry["at"]))
                except FileNotFoundError:
                    continue  # replayed already by a process that held the lock before us
                except db.UNAVAILABLE as e:
                    failures = self._failures[path.name] = self._failures.get(path.name, 0) + 1
                    if failures < GIVE_UP_AFTER or not _database_answers():
                        log.warning("spool: %s not replayed yet (%s); trying again shortly", path.name, e)
                        return done
                    self._set_aside(path, e)
                    continue
                except Exception as e:  # noqa: BLE001 - one bad file must not hold every later call back
                    self._set_aside(path, e)
                    continue
                self._failures.pop(path.name, None)
                path.unlink(missing_ok=True)
                done += 1
            self._sync_folder()
            self.database_down = False
            return done

    def _set_aside(self, path: Path, error: BaseException) -> None:
        log.error("spool: %s could not be replayed (%s: %s); moved to %s", path.name, type(error).__name__, error,
                  self.folder / "failed", exc_info=error)
        (self.folder / "failed").mkdir(exist_ok=True)
        path.rename(self.folder / "failed" / path.name)
        self._failures.pop(path.name, None)

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _database_answers() -> bool:
    try:
        with db.db.connection_context():
            db.db.execute_sql("SELECT 1")
        return True
    except db.UNAVAILABLE:
        return False


async def keep_replaying(spool: Spool, run: Callable[[str, dict, dt.datetime], None]) -> None:
    """The web process's replayer: every REPLAY_EVERY seconds, replay whatever the spool holds (in a
    thread: it uses the database). Runs until cancelled."""
    down_since = None
    while True:
        if spool.backlog():
            try:
                done = await asyncio.to_thread(spool.replay, run)
            except Exception:  # noqa: BLE001 - the replayer must outlive any one failure
                log.exception("spool: replay failed; trying again shortly")
                done = 0
            if spool.backlog():
                if down_since is None:
                    down_since = time.monotonic()
                    log.error("spool: calls are kept in %s until the database is back", spool.folder)
            elif down_since is not None:
                log.warning("spool: the database is back; the kept calls are recorded (after %.0f s)",
                            time.monotonic() - down_since)
                down_since = None
            if done:
                log.info("spool: replayed %d webhooks", done)
        await asyncio.sleep(REPLAY_EVERY)
