#!/usr/bin/env python
"""Evening reports for every firm: how many reports a second the app makes and sends by e-mail,
what a fax report (with its PDF) costs beside WeasyPrint alone, and the memory this takes.

    .venv/bin/python bench/reports.py                      # a fresh SQLite file in a temp folder
    .venv/bin/python bench/reports.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/reports.py --firms 100 --pdf-sample 20     # a quicker run, ~15 s

Each of --firms firms has two reports, every day: by e-mail at 18:00 and by fax at 18:30, and
--messages-per-firm messages taken in the 23 hours before 18:00 (yesterday's, in Tokyo). Mail goes
to a real SMTP server (aiosmtpd) on 127.0.0.1 in its own process; faxes reach the same server
through FAX_TRANSPORT=email-gateway. The app's code runs in this process, as the worker runs it:

  email   ``reports.dispatch`` at 18:00:30, as the worker runs it: every firm's e-mail report made,
          rendered, archived, its delivery recorded and sent (each mail accepted by the SMTP server).
          Target: at least 100 reports/s end to end. Baseline: smtplib alone mailing the same
          reports' subject, text and HTML over one connection.
  fax     for --pdf-sample firms, one at a time: ``reports.make_run`` of the fax report, then
          ``delivery.send_due`` (its PDF mailed to the gateway). Baseline, after each: WeasyPrint
          alone rendering the very HTML the app handed it. Target: within 1.2x the baseline.
  memory  this process's peak resident memory during each phase. Target: under 400 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import itertools
import multiprocessing
import os
import platform
import random
import signal
import smtplib
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
import messages as message_bench  # noqa: E402  (bench/messages.py: its callers, categories and columns)

import peewee as pw  # noqa: E402
import weasyprint  # noqa: E402

from app import db, settings as settings_module  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.delivery import service as delivery  # noqa: E402
from app.messages.forms import NOISE_CATEGORIES  # noqa: E402
from app.messages.models import OPERATOR, Message, MessageVersion  # noqa: E402
from app.reports import render, service as reports  # noqa: E402
from app.reports.models import ReportRun  # noqa: E402
from app.tenants import store  # noqa: E402
from app.tenants.config import validate  # noqa: E402
from app.tenants.models import Recipient, ReportRule, Tenant  # noqa: E402

EMAIL_TARGET = 100.0  # reports/s, end to end
PDF_RATIO_TARGET = 1.2  # a fax report's time over WeasyPrint's alone
MEMORY_TARGET_MB = 400.0
ZONE = ZoneInfo("Asia/Tokyo")  # every bench firm's time zone
EMAIL_KEY, EMAIL_AT = "evening", "18:00"
FAX_KEY, FAX_AT = "evening-fax", "18:30"
PERIOD = dt.timedelta(hours=23)  # the messages are taken in the 23 hours before the e-mail report
FAX_GATEWAY = "fax.example"
BARE_DOMAIN = "bare.example"  # where the e-mail baseline's mails go
CRLF = policy.compat32.clone(linesep="\r\n")
PDF_WARMUP = 2  # fax reports made and rendered bare before the timing (fonts loaded, caches filled)
URGENT = 0.05  # share of urgent messages, as in bench/messages.py
BATCH = 500  # firms per bulk insert


# --------------------------------------------------------------------------------------------
# the data: each firm's two reports, its operators, its day of messages

def email_address(i: int) -> str:
    return f"office@bench-{i:05d}.example.jp"


def fax_number(i: int) -> str:
    """National format, as the firm writes it (03-6xxx-xxxx: distinct from the firms' own numbers)."""
    return f"03-{6000 + i // 10000:04d}-{i % 10000:04d}"


def fax_gateway_address(i: int) -> str:
    return f"{fax_number(i).replace('-', '')}@{FAX_GATEWAY}"


def report_raw(i: int) -> list[dict]:
    """Firm ``i``'s reports as its tenant file writes them: every day, by e-mail and by fax."""
    return [{"key": EMAIL_KEY, "at": [EMAIL_AT], "deliver": [{"channel": "email", "to": [email_address(i)]}]},
            {"key": FAX_KEY, "at": [FAX_AT], "deliver": [{"channel": "fax", "to": [fax_number(i)]}]}]


def report_config(i: int) -> list[dict]:
    """Firm ``i``'s reports as ``config.validate`` returns them: what ``store.apply`` writes."""
    config, problems = validate({**c.firm_raw(i), "reports": report_raw(i)}, default_region=c.REGION)
    assert not problems, problems
    return config["reports"]


def add_reports(firms: int, created_at: dt.datetime) -> None:
    """Give every bench firm its two reports, bulk-inserted with the values ``store.apply`` writes
    (far faster than importing each firm again); a sample is then checked against ``store.snapshot``.
    ``created_at`` is when the firm set them up: no report is owed for an earlier time."""
    tenant_ids = dict(Tenant.select(Tenant.slug, Tenant.id).where(Tenant.slug.startswith("bench-")).tuples())
    for lo in range(0, firms, BATCH):
        configs = {tenant_ids[c.firm_raw(i)["slug"]]: report_config(i) for i in range(lo, min(lo + BATCH, firms))}
        with db.db.atomic():
            ReportRule.insert_many([
                {"tenant": tenant, "position": position, "created_at": created_at,
                 **{key: value for key, value in report.items() if key != "deliver"}}
                for tenant, config in configs.items() for position, report in enumerate(config)]).execute()
            rule_ids = {(r.tenant_id, r.key): r.id for r in ReportRule.select(ReportRule.id, ReportRule.tenant,
                                                                               ReportRule.key)
                        .where(ReportRule.tenant.in_(list(configs)))}
            Recipient.insert_many([
                {"report": rule_ids[tenant, report["key"]], "position": position, **deliver}
                for tenant, config in configs.items() for report in config
                for position, deliver in enumerate(report["deliver"])]).execute()
    for i in sorted({0, firms // 2, firms - 1}):
        actual = store.snapshot(Tenant.by_slug(c.firm_raw(i)["slug"]))["reports"]
        assert actual == report_config(i), f"firm {i}: bulk reports differ from an import:\n{actual}"


def add_operators() -> list:
    """The operators who took the messages (their names appear in the read-back marks)."""
    return [accounts.add_user(f"bench-operator-{k}@example.com", "operator", name=f"ベンチ 応対{k}",
                              password=message_bench.PASSWORD) for k in range(message_bench.OPERATORS)]


def message_rows(firm_ids: list[int], per_firm: int, operators: list, rng: random.Random, end: dt.datetime):
    """``per_firm`` messages for each firm, taken at random in the PERIOD before ``end``, as the
    operators' console saves them (see bench/messages.py ``message_rows``): the realistic category
    mix, noise with nothing read back, the others with name and number read back, some urgent, half
    already handled; ids rise with taken_at across firms, as when saved live. Yields (message, first
    version) rows of db values in ``message_bench.MESSAGE_COLUMNS``' and ``VERSION_COLUMNS``' order."""
    first_id = (Message.select(pw.fn.MAX(Message.id)).scalar() or 0) + 1
    taken = sorted((end - dt.timedelta(seconds=rng.uniform(60, PERIOD.total_seconds())), firm)
                   for firm in firm_ids for _ in range(per_firm))
    weights = message_bench.CATEGORY_WEIGHTS
    categories = rng.choices(list(weights), weights=list(weights.values()), k=len(taken))
    for message_id, (taken_at, firm), category in zip(itertools.count(first_id), taken, categories):
        operator = rng.choice(operators)
        if category in NOISE_CATEGORIES:
            fields, readback = ({"callback_number": c.mobile(rng)} if rng.random() < 0.5 else {}), {}
        else:
            fields = message_bench.caller(rng)
            mark = {"by": operator.id, "by_name": operator.name, "at": taken_at.isoformat()}
            readback = {key: mark for key in message_bench.READBACK}
        urgent = category not in NOISE_CATEGORIES and rng.random() < URGENT
        handled = rng.random() < 0.5
        message = {"id": message_id, "tenant": firm, "call_type": "message", "call_type_label": "",
                   "category": category, "urgent": urgent, "fields": fields, "labels": {}, "readback": readback,
                   "taken_at": taken_at, "taken_by": operator.id, "source": OPERATOR,
                   "after_call_seconds": rng.randrange(20, 300), "recording_url": "", "handled": handled,
                   "handled_at": taken_at + dt.timedelta(minutes=rng.randrange(5, 60)) if handled else None,
                   "handled_by": operator.id if handled else None, "handled_note": "", "version": 1}
        version = {"message": message_id, "number": 1, "edited_by": operator.id, "edited_by_name": operator.name,
                   "edited_at": taken_at, "changes": {}, "note": "",
                   "state": {"call_type": "message", "category": category, "urgent": urgent, "fields": fields,
                             "readback": readback}}
        yield db_values(message_bench.MESSAGE_COLUMNS, message), db_values(message_bench.VERSION_COLUMNS, version)


def db_values(columns: list[pw.Field], values: dict) -> tuple:
    """One row for ``c.bulk_insert``: each column's value as the field hands it to the driver."""
    return tuple(f.db_value(values[f.name]) for f in columns)


def load(firms: int, per_firm: int, email_at: dt.datetime, rng: random.Random) -> float:
    """The reports, the operators and every firm's messages of the day; returns the seconds taken."""
    started = time.perf_counter()
    add_reports(firms, created_at=email_at - dt.timedelta(hours=1))
    operators = add_operators()
    firm_ids = [t.id for t in Tenant.select(Tenant.id).where(Tenant.slug.startswith("bench-"))]
    rows = message_rows(firm_ids, per_firm, operators, rng, email_at.astimezone(dt.timezone.utc))
    while batch := list(itertools.islice(rows, BATCH * per_firm)):
        with db.db.atomic():
            c.bulk_insert(Message, message_bench.MESSAGE_COLUMNS, [m for m, _v in batch])
            c.bulk_insert(MessageVersion, message_bench.VERSION_COLUMNS, [v for _m, v in batch])
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# measurements

@dataclass
class Span:
    """One measured stretch of work: its wall time, the CPU of each party, and this process's
    memory. None: not measured, or not involved."""

    reports: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # this process, seconds
    database_cpu: float | None = None  # PostgreSQL backends, seconds
    smtp_cpu: float | None = None  # the SMTP server, seconds
    other_cores: float = 0.0
    start_mb: float | None = None  # this process's resident memory when the span began
    peak_mb: float | None = None
    times: list[float] = field(default_factory=list)  # seconds per report, when timed one by one
    children_peak_mb: float | None = None  # the largest child process's peak (reports.dispatch's makers)


@contextlib.contextmanager
def measure(span: Span, servers: list, url: str):
    """Measure the enclosed work into ``span``; ``servers`` (the SMTP server first) are the bench's
    other processes, whose CPU is not the machine's other work."""
    c.reset_peak_rss()
    span.start_mb = c.peak_rss_mb()  # just reset: the present resident memory
    with c.CPUMeter(servers, url) as meter:
        yield span
    span.seconds, span.cpu, span.smtp_cpu = meter.seconds, meter.client, meter.server[0]
    span.database_cpu, span.other_cores, span.peak_mb = meter.database_cpu, meter.other_cores, c.peak_rss_mb()


@contextlib.contextmanager
def timed(span: Span):
    """Add the enclosed work to ``span`` as one more report: its wall time and this process's CPU."""
    started, cpu = time.perf_counter(), time.process_time()
    yield
    span.times.append(time.perf_counter() - started)
    span.cpu += time.process_time() - cpu


@dataclass
class Email:
    run: Span  # reports.dispatch: made, rendered, archived, recorded, sent
    made: int
    outcome: dict
    messages_reported: int
    bare: Span  # smtplib alone, the same reports' text and HTML, one connection


def email_phase(settings, at: dt.datetime, sink: c.SMTPSink, url: str) -> Email:
    """What the worker does at 18:00 (``reports.dispatch``): every e-mail report made and sent."""
    run = Span()
    with measure(run, [sink], url), ChildrenPeak() as makers:
        made, outcome = reports.dispatch(settings, now=at + dt.timedelta(seconds=30))
    run.children_peak_mb = makers.peak_mb
    run.reports = outcome.get("sent", 0)
    reported = ReportRun.select(pw.fn.SUM(ReportRun.message_count)).where(ReportRun.rule_key == EMAIL_KEY).scalar()
    return Email(run, len(made), outcome, reported or 0, bare_smtp(settings, sink, url))


class ChildrenPeak(threading.Thread):
    """The highest peak resident memory of this process's children (reports.dispatch's maker
    processes) while it runs, read from /proc every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb: float | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            for child in multiprocessing.active_children():
                with contextlib.suppress(OSError, ValueError):
                    self.peak_mb = max(self.peak_mb or 0.0, c.peak_rss_mb(child.pid))

    def __enter__(self) -> "ChildrenPeak":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self.join()


def bare_smtp(settings, sink: c.SMTPSink, url: str) -> Span:
    """The baseline: the reports just sent, their subject, text and HTML read back from the archive
    beforehand, mailed again by smtplib alone over one connection (to BARE_DOMAIN addresses)."""
    runs = list(ReportRun.select(ReportRun.id, ReportRun.subject, ReportRun.text, ReportRun.html)
                .where(ReportRun.rule_key == EMAIL_KEY).order_by(ReportRun.id).tuples())
    span = Span(reports=len(runs))
    with measure(span, [sink], url), smtplib.SMTP(urlsplit(sink.url).hostname, urlsplit(sink.url).port) as smtp:
        for run_id, subject, text, html in runs:
            mail = MIMEMultipart("alternative", _subparts=[MIMEText(text, "plain", "utf-8"),
                                                           MIMEText(html, "html", "utf-8")])
            mail["From"], mail["To"] = settings.MAIL_FROM, bare_address(run_id)
            mail["Subject"] = Header(subject, "utf-8")
            smtp.sendmail(settings.MAIL_FROM, [bare_address(run_id)], mail.as_bytes(policy=CRLF))
    return span


def bare_address(run_id: int) -> str:
    return f"report-{run_id}@{BARE_DOMAIN}"


class PDFRecorder:
    """Stands in for ``render.pdf`` during the fax phase: calls it, and keeps the HTML it was last
    handed (what the baseline renders), and the time, CPU and PDF size of each call."""

    def __init__(self) -> None:
        self.app_pdf = render.pdf
        self.last_html = ""
        self.span = Span()
        self.sizes: list[int] = []

    def __call__(self, html: str) -> bytes:
        with timed(self.span):
            data = self.app_pdf(html)
        self.last_html = html
        self.sizes.append(len(data))
        return data

    def restart(self) -> None:
        """Forget the warm-up."""
        self.span, self.sizes = Span(), []

    def __enter__(self) -> "PDFRecorder":
        render.pdf = self
        return self

    def __exit__(self, *exc) -> None:
        render.pdf = self.app_pdf


class BareRenderer:
    """The baseline, in a process of its own so that its memory is not counted as the app's: it
    renders each HTML it is sent with WeasyPrint alone (the call ``render.pdf`` makes, same base
    URL) and answers with the time and CPU that took, and the PDF's size."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_render_bare, args=(child,),
                                                                    name="bare WeasyPrint", daemon=True)
        self.process.start()
        child.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return c.cpu_seconds(self.pid)

    def render(self, html: str) -> tuple[float, float, int]:
        self._conn.send(html)
        return self._conn.recv()

    def __enter__(self) -> "BareRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.join(timeout=10)
        self._conn.close()


def _render_bare(conn) -> None:
    """BareRenderer's process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the bench stops this
    while True:
        html = conn.recv()
        started, cpu = time.perf_counter(), time.process_time()
        data = weasyprint.HTML(string=html, base_url=str(render.REPORTS_DIR)).write_pdf()
        conn.send((time.perf_counter() - started, time.process_time() - cpu, len(data)))


@dataclass
class Fax:
    app: Span  # the whole fax report: made (HTML, PDF, archive, delivery recorded) and sent
    in_app_pdf: Span  # the render.pdf calls inside it
    sending: Span  # the send_due calls inside it
    bare: Span
    outcome: Counter
    app_sizes: list[int]  # bytes per PDF
    bare_sizes: list[int]


def fax_phase(settings, at: dt.datetime, firms: list[int], warmup: list[int], sink: c.SMTPSink, url: str) -> Fax:
    """One firm at a time: its fax report made and sent as the worker would, then the same HTML
    rendered by WeasyPrint alone. Interleaved, so both see the same machine state; each process
    warmed up by as many PDFs."""
    rules = {r.tenant.slug: r for r in ReportRule.select(ReportRule, Tenant).join(Tenant)
             .where(ReportRule.key == FAX_KEY)}
    now = at + dt.timedelta(seconds=60)
    both, app, sending, bare, outcome, bare_sizes = Span(), Span(), Span(), Span(), Counter(), []
    with PDFRecorder() as recorder, BareRenderer() as renderer:
        for i in warmup:
            rule = rules[c.firm_raw(i)["slug"]]
            reports.make_run(settings, rule.tenant, rule, at)
            outcome.update(delivery.send_due(settings, now))
            renderer.render(recorder.last_html)
        recorder.restart()
        c.reset_peak_rss(renderer.pid)
        bare.start_mb = c.peak_rss_mb(renderer.pid)
        with measure(both, [sink, renderer], url):
            for i in firms:
                rule = rules[c.firm_raw(i)["slug"]]
                with timed(app):
                    reports.make_run(settings, rule.tenant, rule, at)
                    with timed(sending):
                        outcome.update(delivery.send_due(settings, now))
                seconds, cpu, size = renderer.render(recorder.last_html)
                bare.times.append(seconds)
                bare.cpu += cpu
                bare_sizes.append(size)
        bare.peak_mb = c.peak_rss_mb(renderer.pid)
    for span in (app, bare, recorder.span, sending):
        span.reports, span.seconds = len(span.times), sum(span.times)
        span.other_cores = both.other_cores
    app.database_cpu, app.smtp_cpu = both.database_cpu, both.smtp_cpu
    app.start_mb, app.peak_mb = both.start_mb, both.peak_mb
    return Fax(app, recorder.span, sending, bare, outcome, recorder.sizes, bare_sizes)


def mail_check(mails: list[dict], expected: list[str], pdf: bool) -> tuple[str, bool]:
    """Whether the SMTP server accepted exactly one of ``mails`` for each expected address and
    nothing else (each with a PDF, for a fax)."""
    counts = Counter(address for mail in mails for address in mail["to"])
    missing = sum(1 for a in expected if counts[a] == 0)
    repeated = sum(1 for a in expected if counts[a] > 1)
    unexpected = len(set(counts) - set(expected))
    without_pdf = sum(1 for mail in mails if pdf and not mail["pdf"])
    ok = len(mails) == len(expected) and not (missing or repeated or unexpected or without_pdf)
    text = (f"the SMTP server accepted {len(mails):,} mails for {len(expected):,} addresses: "
            f"{missing} missing, {repeated} twice or more, {unexpected} unexpected"
            + (f", {without_pdf} without a PDF" if pdf else ""))
    return text + ("" if ok else "  — MISMATCH"), ok


# --------------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def row(name: str, span: Span, postgres: bool) -> list[str]:
    n, times = span.reports, sorted(span.times)
    per_report = lambda seconds: "-" if seconds is None or not n else ms(seconds / n)  # noqa: E731
    return [name, f"{n:,}", f"{span.seconds:.2f}", f"{n / span.seconds:.1f}" if span.seconds else "-",
            per_report(span.seconds),
            *([ms(c.percentile(times, p)) for p in (50, 95)] + [ms(times[-1])] if times else ["-"] * 3),
            per_report(span.cpu), per_report(span.database_cpu if postgres else None), per_report(span.smtp_cpu),
            *("-" if mb is None else f"{mb:.0f}" for mb in (span.start_mb, span.peak_mb))]


def report(args, kind: str, email: Email, fax: Fax, checks: list[tuple[str, bool]], notes: list[str]) -> None:
    postgres = kind == "PostgreSQL"
    print()
    print(f"Reports — {kind}, {args.firms:,} firms × {args.messages_per_firm} messages; fax sample "
          f"{args.pdf_sample}; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"WeasyPrint {weasyprint.__version__}")
    print(c.table(["phase", "reports", "seconds", "reports/s", "ms/report", "p50", "p95", "max",
                   "CPU ms/report: bench", "PostgreSQL", "SMTP server", "RSS MB: start", "peak"], [
        row("email: made and sent (reports.dispatch)", email.run, postgres),
        row("email baseline: smtplib alone, same content", email.bare, postgres),
        row("fax: report with PDF, made and sent", fax.app, postgres),
        row("  of which render.pdf", fax.in_app_pdf, postgres),
        row("  of which sending (send_due)", fax.sending, postgres),
        row("fax baseline: bare WeasyPrint, same HTML", fax.bare, postgres)]))
    print("  (one run per report; e-mail timed as a whole, fax one report at a time. bench: this process, which")
    print("   runs the app's code, or for the baseline the process of its own it runs in; RSS: that process's")
    print("   resident memory as the phase began and its high-water mark during it, MB = 2^20 bytes)")
    print()
    for note in notes:
        print(f"  {note}")
    for text, _ok in checks:
        print(f"  {text}")
    disturbed = max(email.run.other_cores, email.bare.other_cores, fax.app.other_cores)
    print(c.machine_check(disturbed))
    print()
    correct = all(ok for _text, ok in checks)
    rate = email.run.reports / email.run.seconds
    ratio = fax.app.seconds / fax.bare.seconds
    peak = max(email.run.peak_mb, fax.app.peak_mb)
    print(f"  target: e-mail ≥ {EMAIL_TARGET:g} reports/s end to end: {rate:.1f}/s   "
          f"{c.verdict(rate >= EMAIL_TARGET and correct)}")
    print(f"  target: fax report ≤ {PDF_RATIO_TARGET:g}× bare WeasyPrint: {ms(fax.app.seconds / fax.app.reports)} / "
          f"{ms(fax.bare.seconds / fax.bare.reports)} ms = {ratio:.2f}×   "
          f"{c.verdict(ratio <= PDF_RATIO_TARGET and correct)}")
    print(f"  target: peak memory < {MEMORY_TARGET_MB:g} MB (this process, any phase, after "
          f"{PDF_WARMUP + fax.app.reports} faxes): {peak:.0f} MB; bare WeasyPrint's process "
          f"{fax.bare.peak_mb:.0f} MB   {c.verdict(peak < MEMORY_TARGET_MB)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(p)
    p.add_argument("--firms", type=int, default=1_000,
                   help="firms, each with an e-mail and a fax report (default 1000)")
    p.add_argument("--messages-per-firm", type=int, default=20, help="messages in each report (default 20)")
    p.add_argument("--pdf-sample", type=int, help=f"firms whose fax report is measured (default 100, or --firms "
                                                    f"− {PDF_WARMUP} when there are fewer)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the messages (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (SMTP server's log, SQLite file)")
    args = p.parse_args()
    args.pdf_sample = args.pdf_sample or min(100, args.firms - PDF_WARMUP)
    if args.messages_per_firm < 0 or not 1 <= args.pdf_sample <= args.firms - PDF_WARMUP:
        p.error(f"--messages-per-firm must be 0 or more, --pdf-sample from 1 to --firms − {PDF_WARMUP}")
    c.sigterm_as_interrupt()
    rng = random.Random(args.seed)
    run_started = time.perf_counter()
    # The fax sample is spread over the firms; the warm-up firms are the first ones outside it.
    sample = sorted({round((k + 0.5) * args.firms / args.pdf_sample - 0.5) for k in range(args.pdf_sample)})
    warmup = [i for i in range(args.firms) if i not in set(sample)][:PDF_WARMUP]
    day = (dt.datetime.now(ZONE) - dt.timedelta(days=1)).date()  # yesterday's reports: all in the past
    email_at = dt.datetime.combine(day, dt.time.fromisoformat(EMAIL_AT), tzinfo=ZONE)
    fax_at = dt.datetime.combine(day, dt.time.fromisoformat(FAX_AT), tzinfo=ZONE)
    notes, checks = [], []

    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"Dengon reports bench — {kind}, {args.firms:,} firms × {args.messages_per_firm} messages; "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
        notes.append(f"firms loaded in {c.prepare_database(url, args.firms):.1f} s")
        sink = c.SMTPSink(work)
        settings = settings_module.load(c.app_env(url, c.new_secret(), work, SMTP_URL=sink.url,
                                                  FAX_TRANSPORT="email-gateway", FAX_GATEWAY_DOMAIN=FAX_GATEWAY),
                                        var_dir=work)
        try:
            db.bind(url)
            with db.db.connection_context():
                took = load(args.firms, args.messages_per_firm, email_at, rng)
                # As the worker does once started (app/worker.py): what was loaded stays out of collections.
                gc.collect()
                gc.freeze()
                notes.append(f"reports and {args.firms * args.messages_per_firm:,} messages loaded in {took:.1f} s, "
                             f"statistics and checkpoint {c.settle():.1f} s; this process's peak RSS so far "
                             f"{c.peak_rss_mb():.0f} MB")
                print(f"  e-mail: {args.firms:,} reports …", flush=True)
                email = email_phase(settings, email_at, sink, url)
                if email.run.children_peak_mb:
                    notes.append(f"e-mail: made in processes besides this one (from {reports.PARALLEL_FROM} e-mail "
                                 f"reports at once), their CPU counted as this process's; the largest one's peak "
                                 f"RSS {email.run.children_peak_mb:.0f} MB")
                emailed = sink.received()
                from_app = [mail for mail in emailed if not mail["to"][0].endswith("@" + BARE_DOMAIN)]
                checks.append(mail_check(from_app, [email_address(i) for i in range(args.firms)], pdf=False))
                print(f"  fax: {PDF_WARMUP} + {len(sample)} reports with PDF, each beside a bare render …", flush=True)
                fax = fax_phase(settings, fax_at, sample, warmup, sink, url)
                checks.append(mail_check(sink.received()[len(emailed):],
                                         [fax_gateway_address(i) for i in warmup + sample], pdf=True))
        finally:
            sink.stop()
        c.release_connections()
    expected_messages = args.firms * args.messages_per_firm
    checks.append((f"e-mail: {email.made:,} runs made, deliveries {dict(email.outcome)}, "
                   f"{email.messages_reported:,} messages reported of {expected_messages:,}",
                   email.made == args.firms and email.outcome == {"sent": args.firms}
                   and email.messages_reported == expected_messages))
    fax_reports = len(sample) + PDF_WARMUP
    checks.append((f"fax: deliveries {dict(fax.outcome)} for {fax_reports} reports; PDF {mean_kb(fax.app_sizes)} KB "
                   f"from the app, {mean_kb(fax.bare_sizes)} KB bare (means)", fax.outcome == {"sent": fax_reports}))
    notes.append(f"whole run {time.perf_counter() - run_started:.0f} s")
    report(args, kind, email, fax, checks, notes)
    return 0


def mean_kb(sizes: list[int]) -> str:
    return f"{sum(sizes) / len(sizes) / 1024:.0f}" if sizes else "-"


if __name__ == "__main__":
    c.run(main)
