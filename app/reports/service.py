"""Making report runs: every scheduled time that has come gets exactly one run, rendered and archived,
with its deliveries recorded in the same transaction; each run's deliveries are sent as it is made."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import peewee as pw

from ..db import bind, db, utcnow
from ..delivery import service as delivery
from ..tenants.models import ReportRule, Tenant
from . import render, schedule
from .models import ReportRun, ReportRunMessage

log = logging.getLogger("dengon.reports")

# After downtime the worker makes the runs it missed, each for its own period, this far back.
CATCH_UP = dt.timedelta(days=3)
# Rendering (a fax's PDF above all) is CPU work, and a Python process uses one CPU: from this much
# work at once the runs are made in processes, one per CPU, CHUNK runs at a time. Below it, starting
# the processes (about a second) costs more than it saves. Work: a run 1 (~10 ms), with a PDF
# PDF_WORK (~350 ms); bench/reports.py measures both.
PARALLEL_FROM = 200
PDF_WORK = 35
CHUNK = 10
PROCESSES = os.cpu_count() or 1
# Threads sending the runs' deliveries as they are made, each over its own SMTP connection: one
# alone spends most of its time waiting on the mail server and the database's commits.
SENDERS = 3


@dataclass(frozen=True)
class Made:
    """A run just made, without what it rendered: a report time makes thousands, and their PDFs
    need not stay in memory until the last is made."""

    id: int
    tenant: Tenant
    rule_key: str
    scheduled_at: dt.datetime
    period_start: dt.datetime
    message_count: int
    skipped: bool
    deliveries: tuple[int, ...] = ()  # the ids of those it recorded


@dataclass
class Composed:
    """The report of ``rule`` at a time, as made but not recorded: what a run stores, what a preview shows."""

    start: dt.datetime
    end: dt.datetime
    messages: list
    rendered: render.Rendered | None  # None: no messages and the report skips empty periods
    delivered: frozenset[str]  # the channels its recipients get it by

    @property
    def skipped(self) -> bool:
        return self.rendered is None


def compose(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime, setup: render.Setup | None = None,
            channels: set[str] | None = None, even_empty: bool = False) -> Composed:
    """The one way a report is made, for a run and for a preview alike: the period from the previous
    scheduled time to ``at``, the messages in it its filters let through, rendered. ``channels``: the
    forms to render besides the e-mail (default: its recipients'); ``even_empty``: render a report
    that skips empty periods all the same (a test send)."""
    setup = setup or render.Setup.of_rules([rule])[rule.id]
    delivered = frozenset(r.channel for r in setup.recipients)
    start = schedule.previous_time(rule, tenant, at)
    messages = render.covered(tenant, rule, start, at)
    if not messages and rule.when_empty == "skip" and not even_empty:
        return Composed(start, at, messages, None, delivered)
    rendered = render.report(settings, tenant, rule, start, at, messages, setup, channels)
    return Composed(start, at, messages, rendered, delivered)


def make_run(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime,
             setup: render.Setup | None = None) -> Made | None:
    """The run of ``rule`` at ``at``, with its deliveries; None when it exists already (the callers
    look first, in one query for many; the unique index settles a race)."""
    setup = setup or render.Setup.of_rules([rule])[rule.id]
    made = compose(settings, tenant, rule, at, setup)
    start, messages, skipped, rendered = made.start, made.messages, made.skipped, made.rendered
    values = {"tenant": tenant, "rule": rule, "rule_key": rule.key, "scheduled_at": at, "period_start": start,
              "message_count": len(messages), "skipped": skipped}
    if rendered is not None:
        values.update(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=rendered.sms,
                      pdf=rendered.pdf)
    try:
        with db.atomic():
            run = ReportRun.create(**values)
            if messages:  # what this report carried, for each message's delivery log
                ReportRunMessage.insert_many([{"run": run.id, "message": m.id} for m in messages]).execute()
            # recorded with the run: a run made is a run that will be sent
            ids = [] if skipped else delivery.create(tenant, delivery.targets(setup.recipients, setup.staff), at,
                                                     run=run)
    except pw.IntegrityError:  # another worker (or `dengon reports run`) made it meanwhile
        return None
    log.info("report %s/%s at %s: %d messages%s", tenant.slug, rule.key, at.isoformat(), len(messages),
             " (empty: skipped)" if skipped else "")
    return Made(run.id, tenant, rule.key, at, start, len(messages), skipped, tuple(ids))


def due_runs(settings, now: dt.datetime | None = None) -> Iterator[Made]:
    """Makes every run whose time has come (within the catch-up window, not before its rule
    existed), yielding each as it is made."""
    now = now or utcnow()
    earlier = _made_since(now - CATCH_UP)
    due = []
    for rule in ReportRule.select(ReportRule, Tenant).join(Tenant):
        since = max(now - CATCH_UP, rule.created_at)
        due += [(rule, at) for at in schedule.times_between(rule, rule.tenant, since, now)
                if (rule.tenant_id, rule.key, at) not in earlier]
    return _make(settings, due)


def make_due_runs(settings, now: dt.datetime | None = None) -> list[Made]:
    return list(due_runs(settings, now))


def runs_on(settings, day: dt.date | None, tenant: Tenant | None = None,
            now: dt.datetime | None = None) -> Iterator[Made]:
    """`dengon reports run`: makes the runs of a local date (each firm's today by default) that are
    due, yielding each as it is made."""
    now = now or utcnow()
    query = ReportRule.select(ReportRule, Tenant).join(Tenant)
    if tenant is not None:
        query = query.where(ReportRule.tenant == tenant)
    due = []
    for rule in query:
        local_day = day or now.astimezone(rule.tenant.zone).date()
        due += [(rule, at) for at in schedule.times_on_date(rule, rule.tenant, local_day) if at <= now]
    earlier = _made_since(min(at for _rule, at in due) - dt.timedelta(seconds=1)) if due else set()
    return _make(settings, [(rule, at) for rule, at in due if (rule.tenant_id, rule.key, at) not in earlier])


def _make(settings, due: list[tuple[ReportRule, dt.datetime]]) -> Iterator[Made]:
    """Makes the runs, yielding each as it is made; what they need of their firms is read for all
    of them before the first. Much work at once is shared among processes, one per CPU."""
    setups = render.Setup.of_rules(list({rule.id: rule for rule, _at in due}.values())) if due else {}
    work = sum(PDF_WORK if any(r.channel == "fax" for r in setups[rule.id].recipients) else 1 for rule, _at in due)
    if PROCESSES > 1 and work >= PARALLEL_FROM:
        yield from _make_in_processes(settings, due)
    else:
        yield from _make_here(settings, due, setups)


def _make_here(settings, due: list[tuple[ReportRule, dt.datetime]],
               setups: dict[int, render.Setup]) -> Iterator[Made]:
    for rule, at in due:
        try:
            run = make_run(settings, rule.tenant, rule, at, setups[rule.id])
        except Exception:  # one firm's broken template must not hold back every other firm's report
            log.exception("report %s/%s at %s could not be made; tried again next minute", rule.tenant.slug,
                          rule.key, at.isoformat())
            continue
        if run:
            yield run


def _make_in_processes(settings, due: list[tuple[ReportRule, dt.datetime]]) -> Iterator[Made]:
    chunks = [[(rule.id, at) for rule, at in due[i:i + CHUNK]] for i in range(0, len(due), CHUNK)]
    # Spawned, not forked: a fork would copy the worker's threads' locks and its open connections.
    with ProcessPoolExecutor(min(PROCESSES, len(chunks)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_maker,
                             initargs=(settings.DATABASE_URL, log.getEffectiveLevel())) as pool:
        for done in as_completed([pool.submit(_make_chunk, settings, chunk) for chunk in chunks]):
            yield from done.result()


def _start_maker(database_url: str, log_level: int) -> None:
    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s")
    bind(database_url)


def _make_chunk(settings, chunk: list[tuple[int, dt.datetime]]) -> list[Made]:
    """In a maker process: one chunk's runs."""
    with db.connection_context():
        rules = {rule.id: rule for rule in ReportRule.select(ReportRule, Tenant).join(Tenant)
                 .where(ReportRule.id.in_([rule_id for rule_id, _at in chunk]))}
        due = [(rules[rule_id], at) for rule_id, at in chunk if rule_id in rules]
        return list(_make_here(settings, due, render.Setup.of_rules(list(rules.values()))))


def send_as_made(settings, runs: Iterator[Made],
                 now: dt.datetime | None = None) -> tuple[list[Made], dict[str, int]]:
    """Make the runs while threads beside send each one's deliveries as soon as it is made: the
    first firms have their reports while the last are still being rendered, and the time spent
    waiting on mail servers and commits is not added to the time spent rendering. Returns the runs
    made and how many deliveries ended in each status; what the senders did not get to stays due
    for the next dispatch."""
    made: list[Made] = []
    handed: queue.SimpleQueue[int | None] = queue.SimpleQueue()  # deliveries' ids, None: no more
    outcomes: list[dict[str, int]] = []

    def sending() -> None:
        with db.connection_context():
            outcomes.append(delivery.send(settings, iter(handed.get, None), now))

    senders = [threading.Thread(target=sending, name=f"dengon-report-sender-{n}") for n in range(SENDERS)]
    for sender in senders:
        sender.start()
    try:
        for run in runs:
            made.append(run)
            for delivery_id in run.deliveries:
                handed.put(delivery_id)
    finally:
        for _sender in senders:
            handed.put(None)
        for sender in senders:
            sender.join()
    return made, dict(sum((Counter(outcome) for outcome in outcomes), Counter()))


def dispatch(settings, now: dt.datetime | None = None) -> tuple[list[Made], dict[str, int]]:
    """What the worker does every minute: make and send the reports that are due, then send every
    other delivery that is (notifications not yet sent, retries). ``now`` chooses what is due; the
    deliveries are claimed at the time they are sent (a claim is timed from its own moment)."""
    made, outcome = send_as_made(settings, due_runs(settings, now or utcnow()), now)
    rest = delivery.send_due(settings, now)
    return made, dict(Counter(outcome) + Counter(rest))


def _made_since(since: dt.datetime) -> set[tuple[int, str, dt.datetime]]:
    """(firm, report, time) of the runs made after ``since``: one query where the dispatcher,
    looking back days every minute, would ask once per scheduled time."""
    return set(ReportRun.select(ReportRun.tenant, ReportRun.rule_key, ReportRun.scheduled_at)
               .where(ReportRun.scheduled_at > since).tuples())
