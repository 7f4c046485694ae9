"""Shared by the bench scripts: servers in subprocesses, throw-away databases and bulk loading,
synthetic firms, signed webhook requests and a small HTTP/1.1 load client.

Run as a script it serves the *bare* baseline: Starlette routes answering POST /twilio/voice
with fixed TwiML and POST /api/v1/messages with its JSON body echoed back (parsed in a worker
thread, as the API does its work), under the same uvicorn options as ``dengon serve``; or an SMTP server that
accepts every mail and notes it in a file (see ``SMTPSink``)::

    python bench/_common.py bare --port 8765
    python bench/_common.py smtp --port 8025 --mail-log mail.jsonl
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import random
import secrets
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
REGION = "JP"
# The answering service's own number, which firms forward their lines to. Not a firm's number:
# a forwarded call is found by ForwardedFrom after the dedicated-number lookup of To misses.
SERVICE_NUMBER = "+815069990000"
TWILIO_PARAMS = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "Direction": "inbound",
                 "CalledCountry": "JP", "CallerCountry": "JP", "FromCountry": "JP", "ToCountry": "JP"}


# --------------------------------------------------------------------------------------------
# processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or HOST, parts.port or default_port), timeout=1).close()
        return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the bench process dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def sigterm_as_interrupt() -> None:
    """SIGINT (even when inherited as ignored, as in a background job) and SIGTERM unwind the bench
    like Ctrl-C, so every `finally` stops its servers and drops its database."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, handler)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy since boot, all CPUs together (from /proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _backend_pids(database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` (their title names it), when the server is local."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    title = f.read(200)
            except OSError:
                continue
            if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                pids.append(int(entry))
    return pids


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM) in MB, since it started or since ``reset_peak_rss``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss(pid: int | str = "self") -> None:
    """Start a new peak-memory measurement from the present resident memory (Linux 4.0 and later),
    so that each phase of a bench gets its own peak."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class CPUMeter:
    """CPU used during a span: by the whole machine, and by the bench itself (this process and
    its reaped children, the given servers, and PostgreSQL backends serving the bench's database).
    What is left is other work on the machine, which disturbs the figures."""

    def __init__(self, servers: list, database_url: str | None = None):
        self.servers = servers
        parts = urlsplit(database_url or "")
        self.database = parts.path.strip("/") if parts.scheme.startswith("postgres") else None

    def _backends(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in _backend_pids(self.database)} if self.database else {}

    def __enter__(self) -> "CPUMeter":
        t = os.times()
        self.t0, self.machine0 = time.monotonic(), machine_cpu_seconds()
        self.self0 = t.user + t.system + t.children_user + t.children_system
        self.servers0 = [s.cpu() for s in self.servers]
        self.backends0 = self._backends()
        return self

    def __exit__(self, *exc) -> None:
        t = os.times()
        self.seconds = time.monotonic() - self.t0
        self.machine = machine_cpu_seconds() - self.machine0
        self.client = t.user + t.system + t.children_user + t.children_system - self.self0
        self.server = [s.cpu() - c0 for s, c0 in zip(self.servers, self.servers0)]
        backends = self._backends()
        self.database_cpu = sum(cpu - self.backends0.get(pid, 0.0) for pid, cpu in backends.items())

    @property
    def other_cores(self) -> float:
        """Cores' worth of CPU used by everything else on the machine, on average."""
        own = self.client + sum(self.server) + self.database_cpu
        return max(0.0, self.machine - own) / self.seconds if self.seconds else float("nan")


class Server:
    """A web server in a subprocess on 127.0.0.1, in its own session (Ctrl-C reaches only the
    bench, which then stops it), logging to a file in ``workdir``."""

    def __init__(self, name: str, argv: list[str], env: dict, workdir: Path, port: int, ready_path: str):
        self.name, self.port = name, port
        self.url = f"http://{HOST}:{port}"
        self.log_path = workdir / f"{name}-{port}.log"
        self._log = open(self.log_path, "w+")
        self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.answers(ready_path):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{name} did not start; its log ({self.log_path}):\n{self.log_tail()}")

    def answers(self, ready_path: str) -> bool:
        """Whether the server is up: any HTTP answer to ``ready_path`` will do."""
        try:
            urllib.request.urlopen(self.url + ready_path, timeout=1).close()
        except urllib.error.HTTPError:
            pass  # it answered
        except OSError:
            return False
        return True

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class SMTPSink(Server):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 in its own process, so that the CPU spent receiving
    is not counted as the bench's. It accepts every mail and, before answering 250, notes it as a
    line of JSON in ``mail_log``: recipients, size, and whether a PDF is attached."""

    def __init__(self, workdir: Path):
        port = free_port()
        self.mail_log = workdir / f"smtp-{port}.jsonl"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        super().__init__("smtp", [sys.executable, str(BENCH / "_common.py"), "smtp", "--port", str(port),
                                  "--mail-log", str(self.mail_log)], env, workdir, port, "")
        self.url = f"smtp://{HOST}:{port}"

    def answers(self, ready_path: str) -> bool:
        try:
            with smtplib.SMTP(HOST, self.port, timeout=1) as smtp:
                smtp.noop()
        except (OSError, smtplib.SMTPException):
            return False
        return True

    def received(self) -> list[dict]:
        """Every mail accepted so far: {"to": [addresses], "bytes": size, "pdf": bool}."""
        with open(self.mail_log) as f:
            return [json.loads(line) for line in f]


def app_env(database_url: str, secret_key: str, workdir: Path, **extra: str) -> dict:
    """The whole environment of a Dengon process: nothing inherited but PATH (no stray REDIS_URL)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url,
           "SECRET_KEY": secret_key, "OUTBOX_DIR": str(workdir / "outbox"), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def start_app(env: dict, workdir: Path, name: str = "app") -> Server:
    """``python -m app.cli serve`` (one uvicorn worker) on a free port, PUBLIC_URL set to it."""
    port = free_port()
    env = {**env, "PUBLIC_URL": f"http://{HOST}:{port}"}
    return Server(name, [sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(port)],
                  env, workdir, port, "/login")


def start_bare(workdir: Path) -> Server:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return Server("bare", [sys.executable, str(BENCH / "_common.py"), "bare", "--port", str(port)],
                  env, workdir, port, "/twilio/voice")


def run(main) -> None:
    """Run a bench's ``main``; Ctrl-C (or SIGTERM, see ``sigterm_as_interrupt``) ends it cleanly."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)


def add_database_url_option(parser) -> None:
    parser.add_argument("--database-url", help="sqlite:///NEW-FILE, or a postgresql:// URL of a server and database "
                                               "beside which a throw-away database is created and dropped "
                                               "(default: a fresh SQLite file in a temp folder)")


def new_secret() -> str:
    return secrets.token_urlsafe(48)


@contextlib.contextmanager
def workdir(keep: bool = False):
    path = Path(tempfile.mkdtemp(prefix="dengon-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})")
        else:
            import shutil
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# databases

@contextlib.contextmanager
def throwaway_database(url: str | None, work: Path):
    """A fresh, empty database for one run: a SQLite file in ``work`` when ``url`` is None; the
    SQLite file ``url`` names, which must not exist yet; or, for a postgresql:// URL, a new database
    created on that server (connecting through the database the URL names) and dropped at the end."""
    if url is None:
        yield f"sqlite:///{work / 'dengon.db'}"
        return
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if path.exists():
            raise SystemExit(f"{path} exists; the bench needs a fresh database (give a new file or omit --database-url)")
        yield url
        return
    if parts.scheme not in ("postgresql", "postgres"):
        raise SystemExit(f"--database-url: expected sqlite:///… or postgresql://…, got {url!r}")
    if parts.hostname not in (None, "127.0.0.1", "localhost", "::1"):
        raise SystemExit("--database-url: the bench only talks to 127.0.0.1")
    import psycopg2

    name = f"dengon_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from app import db
        if db.db.obj is not None and hasattr(db.db.obj, "close_all"):
            db.db.close_all()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def bulk_insert(model, fields: list, rows: list[tuple]) -> None:
    """Insert ``rows`` (values in ``fields``' order, as each field's ``db_value`` gives them) far
    faster than ``insert_many``: one prepared ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
    Rows that carry their primary key move PostgreSQL's sequence past them, so the app's own
    inserts that follow get new ids. Call with the database bound and connected."""
    from app import db

    table = model._meta.table_name
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    if not db.is_postgres():
        marks = ", ".join("?" * len(fields))
        db.db.cursor().executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
        return
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([r"\N" if v is None else v for v in row] for row in rows)  # \N: NULL; "": empty text
    buffer.seek(0)
    cursor = db.db.cursor()
    cursor.copy_expert(f"""COPY "{table}" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')""", buffer)
    key = model._meta.primary_key
    if key in fields:
        cursor.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', '{key.column_name}'),
                                  (SELECT max("{key.column_name}") FROM "{table}"))""")


def settle() -> float:
    """After a bulk load, bring the database to the state a live one is in; returns the seconds taken.
    The query planner gets its statistics (on PostgreSQL autovacuum gathers them, and also sets the
    visibility map a bulk load leaves empty). A checkpoint then writes the load out, so that the
    measurements do not share the disk with it: on PostgreSQL, checkpoints triggered by the load's
    WAL otherwise go on writing for a minute or more."""
    from app import db

    started = time.perf_counter()
    if db.is_postgres():
        db.db.execute_sql("VACUUM ANALYZE")
        db.db.execute_sql("CHECKPOINT")
    else:
        db.db.execute_sql("ANALYZE")
        db.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def release_connections() -> None:
    """Close the bench process's own connections (before servers start / the database is dropped)."""
    from app import db
    if db.db.obj is None:
        return
    if hasattr(db.db.obj, "close_all"):
        db.db.close_all()
    elif not db.db.is_closed():
        db.db.close()


# --------------------------------------------------------------------------------------------
# firms: each with one forwarded line (03-5xxx-xxxx) and one dedicated number (050-7xxx-xxxx)

MAX_FIRMS = 100_000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def firm_numbers(i: int) -> tuple[str, str]:
    """National format: (forwarded, dedicated). Distinct from the demo firms' numbers."""
    return f"03-{5000 + i // 10000:04d}-{i % 10000:04d}", f"050-{7000 + i // 10000:04d}-{i % 10000:04d}"


def _e164(national: str) -> str:
    return "+81" + national.replace("-", "")[1:]


def firm_raw(i: int) -> dict:
    """Firm ``i`` as a tenant file would write it. Odd firms list [hours] (open all day, every day:
    the hours code runs, yet every call is answered whatever time the bench runs); even ones have
    none (24 hours)."""
    forwarded, dedicated = firm_numbers(i)
    raw = {"slug": f"bench-{i:05d}", "name": f"ベンチ商事{i:05d}株式会社", "name_kana": f"ベンチショウジ{i:05d}",
           "answer_phrase": f"お電話ありがとうございます。ベンチ商事{i:05d}でございます。",
           "numbers": [{"number": forwarded, "kind": "forwarded"}, {"number": dedicated, "kind": "dedicated"}]}
    if i % 2:
        raw["hours"] = {day: "00:00-24:00" for day in WEEKDAYS}
    return raw


def firm_config(i: int) -> dict:
    """The canonical configuration ``config.validate(firm_raw(i))`` returns, built directly (fast)."""
    raw = firm_raw(i)
    hours = None
    if "hours" in raw:
        hours = {**raw["hours"], "closed_on_holidays": False, "after_hours": "answer", "after_hours_message": ""}
    return {"slug": raw["slug"], "name": raw["name"], "name_kana": raw["name_kana"], "language": "ja",
            "timezone": "Asia/Tokyo", "region": REGION, "answer_phrase": raw["answer_phrase"], "instructions": "",
            "numbers": [{"number": _e164(n["number"]), "kind": n["kind"]} for n in raw["numbers"]],
            "hours": hours, "staff": [], "call_types": [], "reports": [], "notify": [], "plan": None}


def firm_number_list(firms: int) -> list[tuple[str, str]]:
    """Every firm number as (E.164, kind): 2 × firms entries."""
    return [(n["number"], n["kind"]) for i in range(firms) for n in firm_config(i)["numbers"]]


def load_firms(firms: int, batch: int = 500) -> float:
    """Create ``firms`` firms; returns seconds taken. The first two go through ``store.import_config``
    (the real import path); the rest are bulk-inserted with the same values ``store.apply`` writes,
    then a sample of them is checked against ``config.validate`` and ``store.snapshot``.
    Call with the database bound and connected."""
    from app.db import db, utcnow
    from app.tenants import store
    from app.tenants.config import validate
    from app.tenants.models import Tenant, TenantNumber

    if not 1 <= firms <= MAX_FIRMS:
        raise SystemExit(f"--firms: expected 1 to {MAX_FIRMS}")
    started = time.perf_counter()
    for i in range(min(firms, 2)):
        config, problems = validate(firm_raw(i), default_region=REGION)
        assert not problems and config == firm_config(i), (problems, config)
        store.import_config(config, source=config["slug"])
    now = utcnow()
    with db.atomic():
        for lo in range(2, firms, batch):
            rows = []
            for i in range(lo, min(lo + batch, firms)):
                c = firm_config(i)
                hours = c["hours"]
                rows.append(dict(slug=c["slug"], name=c["name"], name_kana=c["name_kana"], language=c["language"],
                                 timezone=c["timezone"], region=c["region"], answer_phrase=c["answer_phrase"],
                                 instructions=c["instructions"],
                                 hours={d: hours[d] for d in WEEKDAYS} if hours else None,
                                 holiday_calendar=None, after_hours="answer", after_hours_message="",
                                 created_at=now, updated_at=now))
            Tenant.insert_many(rows).execute()
            ids = dict(Tenant.select(Tenant.slug, Tenant.id).where(
                Tenant.slug.in_([r["slug"] for r in rows])).tuples())
            TenantNumber.insert_many([
                {"tenant": ids[r["slug"]], "number": n["number"], "kind": n["kind"], "position": p}
                for r, i in zip(rows, range(lo, lo + len(rows)))
                for p, n in enumerate(firm_config(i)["numbers"])]).execute()
    for i in sorted({0, 1, firms // 2, firms - 2, firms - 1} & set(range(firms))):
        expected, problems = validate(firm_raw(i), default_region=REGION)
        actual = store.snapshot(Tenant.by_slug(f"bench-{i:05d}"))
        assert not problems and actual == expected, f"firm {i}: bulk data differs from an import:\n{actual}\n{expected}"
    assert TenantNumber.select().count() >= 2 * firms
    return time.perf_counter() - started


def prepare_database(url: str, firms: int) -> float:
    """Migrate ``url`` and load the firms; returns the seconds the firms took."""
    from app import db

    db.bind(url)
    db.migrate()
    with db.db.connection_context():
        took = load_firms(firms)
    release_connections()
    return took


def add_operator(url: str) -> tuple[str, str]:
    from app import db
    from app.accounts import service

    db.bind(url)
    email, password = "bench-operator@example.com", secrets.token_urlsafe(12)
    with db.db.connection_context():
        service.add_user(email, "operator", name="ベンチ 応対", password=password)
    release_connections()
    return email, password


# --------------------------------------------------------------------------------------------
# signed webhook requests

def settings_for(public_url: str, secret_key: str):
    from app import settings as settings_module
    return settings_module.load({"SECRET_KEY": secret_key, "PUBLIC_URL": public_url})


def voice_params(number: tuple[str, str], caller: str, sid: str | None = None) -> dict:
    """An inbound call as the provider announces it: to a dedicated number, or to the service's
    number forwarded from a firm's own line."""
    e164, kind = number
    to = e164 if kind == "dedicated" else SERVICE_NUMBER
    params = {**TWILIO_PARAMS, "CallSid": sid or "CA" + uuid.uuid4().hex, "CallStatus": "ringing",
              "To": to, "Called": to, "From": caller, "Caller": caller}
    if kind == "forwarded":
        params["ForwardedFrom"] = e164
    return params


def status_params(sid: str, caller: str, to: str) -> dict:
    return {**TWILIO_PARAMS, "CallSid": sid, "CallStatus": "completed", "CallDuration": "12",
            "To": to, "Called": to, "From": caller, "Caller": caller}


def signed(settings, path: str, params: dict) -> tuple[bytes, dict]:
    from app.calls import webhooks
    body = urlencode(params).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded",
                  "X-Twilio-Signature": webhooks.sign(settings, path, params)}


def raw_request(settings, port: int, path: str, params: dict) -> bytes:
    """The whole signed webhook request, ready to write to a keep-alive connection."""
    body, headers = signed(settings, path, params)
    return http_request(port, "POST", path, {"User-Agent": "TwilioProxy/1.1", "Accept": "*/*", **headers}, body)


def http_request(port: int, method: str, path: str, headers: dict, body: bytes = b"") -> bytes:
    """A whole HTTP/1.1 request for ``HTTPConnection.request``, built before the timing starts."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method not in ("GET", "HEAD"):
        head.append(f"Content-Length: {len(body)}")
    return "\r\n".join([*head, "", ""]).encode() + body


def mobile(rng: random.Random) -> str:
    """A valid JP mobile number in E.164 (070/080/090 and a subscriber number not starting with 0)."""
    return f"+81{rng.choice('987')}0{rng.randrange(10 ** 7, 10 ** 8)}"


# --------------------------------------------------------------------------------------------
# statistics and tables

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


QUIET_CORES = 0.25  # other processes' CPU above which a measurement is called disturbed


def machine_check(disturbed: float) -> str:
    """The verdict on the most CPU other processes used (in cores) during any measurement."""
    if disturbed > QUIET_CORES:
        return (f"  machine check: WARNING — other processes used up to {disturbed:.2f} cores during a measurement "
                f"(of {os.cpu_count()}); the figures are disturbed: run again on a quiet machine.")
    return f"  machine check: quiet (other processes used at most {disturbed:.2f} cores during any measurement)."


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def use_uvloop() -> None:
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


# --------------------------------------------------------------------------------------------
# a minimal HTTP/1.1 keep-alive client: far cheaper per request than a general-purpose one, so a
# single client process can outrun a single-worker Python server

class HTTPConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost: BaseException | None = None

    @classmethod
    async def open(cls, port: int) -> "HTTPConnection":
        loop = asyncio.get_running_loop()
        _transport, conn = await loop.create_connection(cls, HOST, port)
        return conn

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None:
            return
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self.waiter = None
            waiter.set_exception(ConnectionError("response without Content-Length"))
            return
        stop = head.find(b"\r\n", at + 2)
        total = end + 4 + int(head[at + 17:stop if stop > 0 else len(head)])
        if len(buf) < total:
            return
        status = int(buf[9:12])
        body = bytes(buf[end + 4:total])
        del buf[:total]
        self.waiter = None
        waiter.set_result((status, body))

    def connection_lost(self, exc) -> None:
        self.lost = exc or ConnectionResetError("closed by the server")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.lost)
        self.waiter = None

    def request(self, data: bytes) -> asyncio.Future:
        if self.lost is not None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def good_response(status: int, body: bytes) -> bool:
    return status == 200 and b"<Response>" in body


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    first_error: str = ""
    started: float = 0.0  # time.monotonic(): comparable across processes on Linux
    ended: float = 0.0
    client_cpu: float = 0.0  # seconds of CPU the client process(es) used
    latencies: list[float] = field(default_factory=list)  # seconds
    lateness: list[float] = field(default_factory=list)  # open loop: how late a send left, seconds
    extra_connections: int = 0  # open loop: connections opened mid-run because none was idle

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what

    def answered(self, status: int, body: bytes, good) -> None:
        """Count an answer as ok or as an error, by ``good(status, body)``."""
        if good(status, body):
            self.ok += 1
        else:
            self.error(f"HTTP {status}: {body[:120]!r}")

    def merge(self, other: "LoadResult") -> None:
        self.sent += other.sent
        self.ok += other.ok
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.started = min(self.started, other.started) if self.started else other.started
        self.ended = max(self.ended, other.ended)
        self.client_cpu += other.client_cpu
        self.latencies += other.latencies
        self.extra_connections += other.extra_connections

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else float("nan")


async def closed_loop(port: int, requests: list[bytes], concurrency: int, seconds: float,
                      ready=None, go=None, good=good_response) -> LoadResult:
    """``concurrency`` connections, each sending its next request as soon as the last is answered,
    until ``requests`` are used up or ``seconds`` have passed. ``good(status, body)`` tells an
    answer from an error (default: the webhook's TwiML)."""
    conns = [await HTTPConnection.open(port) for _ in range(concurrency)]
    result = LoadResult()
    it = iter(requests)
    if ready is not None:
        ready.put(True)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
    cpu0 = time.process_time()
    result.started = time.monotonic()
    deadline = result.started + seconds

    async def worker(conn: HTTPConnection) -> None:
        for data in it:
            if time.monotonic() >= deadline:
                return
            result.sent += 1
            t0 = time.monotonic()
            try:
                status, body = await conn.request(data)
            except (ConnectionError, OSError) as exc:
                result.error(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = await HTTPConnection.open(port)
                continue
            result.latencies.append(time.monotonic() - t0)
            result.answered(status, body, good)

    await asyncio.gather(*(worker(c) for c in conns))
    result.ended = time.monotonic()
    result.client_cpu = time.process_time() - cpu0
    for c in conns:
        c.close()
    return result


def _closed_loop_child(port, requests, concurrency, seconds, ready, go, out) -> None:
    use_uvloop()
    out.put(asyncio.run(closed_loop(port, requests, concurrency, seconds, ready, go)))


def run_closed_loop(port: int, requests: list[bytes], concurrency: int, seconds: float, procs: int = 1) -> LoadResult:
    """The closed loop in this process, or split over ``procs`` client processes started together."""
    if procs <= 1:
        return asyncio.run(closed_loop(port, requests, concurrency, seconds))
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    children = []
    try:
        for k in range(procs):
            share = concurrency // procs + (1 if k < concurrency % procs else 0)
            p = ctx.Process(target=_closed_loop_child, daemon=True,
                            args=(port, requests[k::procs], max(1, share), seconds, ready, go, out))
            p.start()
            children.append(p)
        for _ in children:
            ready.get(timeout=30)
        go.set()
        total = LoadResult()
        for _ in children:
            total.merge(out.get(timeout=seconds + 60))
        return total
    finally:
        for p in children:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)


async def open_loop(port: int, requests: list[bytes], rate: float, pool: int = 64, good=good_response) -> LoadResult:
    """Send request i at start + i/rate whatever happened to the others (open loop); latency is
    measured from the scheduled time, so a late send or a queue in the server counts in full.
    ``good(status, body)`` tells an answer from an error (default: the webhook's TwiML)."""
    loop = asyncio.get_running_loop()
    idle = [await HTTPConnection.open(port) for _ in range(pool)]  # used round-robin: none idles for long
    result = LoadResult()
    tasks = []

    async def send(data: bytes, scheduled: float) -> None:
        conn = None
        while idle and conn is None:
            candidate = idle.pop(0)
            if candidate.lost is None:
                conn = candidate
        if conn is None:
            conn = await HTTPConnection.open(port)
            result.extra_connections += 1
        result.sent += 1
        try:
            status, body = await conn.request(data)
        except (ConnectionError, OSError) as exc:
            result.error(f"{type(exc).__name__}: {exc}")
            conn.close()
            return
        result.latencies.append(time.monotonic() - scheduled)
        idle.append(conn)
        result.answered(status, body, good)

    cpu0 = time.process_time()
    result.started = start = time.monotonic() + 0.05
    for i, data in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        result.lateness.append(max(0.0, time.monotonic() - scheduled))
        tasks.append(loop.create_task(send(data, scheduled)))
    await asyncio.gather(*tasks)
    result.ended = time.monotonic()
    result.client_cpu = time.process_time() - cpu0
    for c in idle:
        c.close()
    return result


# --------------------------------------------------------------------------------------------
# the bare baseline server

def bare_app():
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from twilio.twiml.voice_response import VoiceResponse

    # The same TwiML the app answers a queued call with (same size on the wire).
    base = "http://127.0.0.1:8000"
    twiml = VoiceResponse()
    twiml.enqueue("dengon", wait_url=f"{base}/twilio/wait", wait_url_method="POST",
                  action=f"{base}/twilio/queue-exit", method="POST")
    text = str(twiml)

    async def voice(request):
        return Response(text, media_type="application/xml")

    async def save(request):
        # What any JSON API request costs at least: the body read, handed to a worker thread (the
        # app's requests do their database work in one), an answer of about the same size.
        body = await run_in_threadpool(json.loads, await request.body())
        return JSONResponse({"id": 1, **body}, status_code=201, headers={"Location": "/api/v1/messages/1"})

    return Starlette(routes=[Route("/twilio/voice", voice, methods=["POST"]),
                             Route("/api/v1/messages", save, methods=["POST"])])


def _serve_bare(argv: list[str]) -> None:
    import argparse

    import uvicorn

    p = argparse.ArgumentParser(prog="bench/_common.py bare")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    # The options of `dengon serve` (app/cli.py cmd_serve), access log included.
    uvicorn.run(bare_app(), host=HOST, port=args.port, proxy_headers=True, log_level="info",
                timeout_graceful_shutdown=3)


# --------------------------------------------------------------------------------------------
# the SMTP server of SMTPSink

def _serve_smtp(argv: list[str]) -> None:
    import argparse
    import threading

    from aiosmtpd.controller import Controller

    p = argparse.ArgumentParser(prog="bench/_common.py smtp")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mail-log", required=True)
    args = p.parse_args(argv)
    log = open(args.mail_log, "a")

    class Accept:
        async def handle_DATA(self, server, session, envelope):
            log.write(json.dumps({"to": envelope.rcpt_tos, "bytes": len(envelope.content),
                                  "pdf": b"Content-Type: application/pdf" in envelope.content}) + "\n")
            log.flush()  # before the 250: a sender that has its answer finds its mail in the file
            return "250 Message accepted for delivery"

    Controller(Accept(), hostname=HOST, port=args.port).start()
    threading.Event().wait()  # until SIGTERM


if __name__ == "__main__":
    servers = {"bare": _serve_bare, "smtp": _serve_smtp}
    if sys.argv[1:2] not in [[name] for name in servers]:
        raise SystemExit("usage: python bench/_common.py bare --port PORT\n"
                         "       python bench/_common.py smtp --port PORT --mail-log FILE")
    servers[sys.argv[1]](sys.argv[2:])
