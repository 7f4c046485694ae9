"""The figures pages' report: the period a page asks for (a preset or chosen days, an interval), the
figures of it from ``figures()``, their charts, and the same numbers as CSV. The page, its CSV and
``GET /api/v1/stats`` show the same figures; only their form differs (rates as percentages here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import i18n, qa
from ..accounts.models import User
from ..i18n import N_, _
from ..messages.export import csv_lines
from ..tenants.models import Tenant
from ..web import periods
from . import chart
from .figures import INTERVALS, KEYS, Figures, by_operator, by_tenant, figures

INTERVAL_LABELS = {"15m": N_("15 minutes"), "30m": N_("30 minutes"), "1h": N_("1 hour"), "1d": N_("1 day")}
LABELS = {
    "offered": N_("Calls offered"), "answered": N_("Calls answered"), "abandoned": N_("Calls abandoned"),
    "abandon_rate": N_("Abandon rate (%)"), "service_level": N_("Service level (%)"),
    "asa_s": N_("Average speed of answer (s)"), "aht_s": N_("Average handling time (s)"),
    "talk_s": N_("Average talk time (s)"), "acw_s": N_("Average after-call work (s)"),
    "after_hours": N_("After-hours calls"), "voicemails": N_("Voicemails"), "blocked": N_("Blocked calls"),
    "messages": N_("Messages taken"), "noise": N_("Noise calls"),
}
RATES = {"abandon_rate", "service_level"}
# What the interval and firm tables show (the CSV has every key); the page's summary has them all.
SHORT = ("offered", "answered", "abandoned", "service_level", "asa_s", "aht_s", "messages")
SERVICE_LEVEL_TARGET = 0.8
MAX_DAYS = 366
MAX_INTERVALS = 1500  # 15-minute intervals for a fortnight; a longer period wants longer intervals


def shown(key: str, value) -> str:
    """A figure as the page and the CSV print it: rates as percentages to one decimal, means in
    seconds to one decimal, counts whole; "" when there is none (nothing stood under a rate)."""
    if value is None:
        return ""
    if key in RATES:
        return f"{value * 100:.1f}"
    if key.endswith("_s"):
        return f"{value:.1f}"
    return str(value)


@dataclass
class Period:
    preset: str
    first: dt.date
    last: dt.date
    interval: str
    zone: dt.tzinfo
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @property
    def one_day(self) -> bool:
        return self.first == self.last

    def label(self, start: dt.datetime) -> str:
        """An interval's start as its row and the chart name it."""
        local = start.astimezone(self.zone)
        if self.interval == "1d":
            return f"{local:%m/%d}" if self.first.year == self.last.year else f"{local:%Y/%m/%d}"
        return f"{local:%H:%M}" if self.one_day else f"{local:%m/%d %H:%M}"


def read_period(params, zone: dt.tzinfo, now: dt.datetime, errors: dict) -> Period:
    """The period a page asks for: the days of the form (``from``, ``to``: chosen days), else a
    preset's (``period``, default today); and ``interval`` (default an hour for one day, a day for more)."""
    preset = "custom" if params.get("from") else (params.get("period") or "today")
    today = now.astimezone(zone).date()
    first = last = today
    if params.get("period", "custom") not in periods.PRESETS:
        errors["period"] = _("Choose a period from the list.")
    elif preset == "custom":
        first = periods.day(params, "from", errors) or today
        last = periods.day(params, "to", errors) or first
        if last < first:
            errors["to"] = _("The last day comes before the first.")
        elif (last - first).days >= MAX_DAYS:
            errors["to"] = _("At most {days} days at once.").format(days=MAX_DAYS)
    else:
        first, last = periods.preset(preset, zone, now)
    interval = params.get("interval") or ("1h" if first == last else "1d")
    if interval not in INTERVALS:
        errors["interval"] = _("Choose an interval from the list.")
        interval = "1d"
    period = Period(preset, first, last, interval, zone)
    if errors.keys() & {"period", "from", "to"}:
        return period
    period.since, period.until = periods.bounds(first, last, zone, errors)
    if period.since and interval != "1d" and (period.until - period.since) / INTERVALS[interval] > MAX_INTERVALS:
        errors["interval"] = _("Too many intervals: choose a longer interval or fewer days.")
    return period


@dataclass
class Report:
    period: Period
    figures: Figures
    firms: list[tuple[Tenant, dict]] | None = None  # for staff: every firm with anything to count, or the one chosen
    operators: list[tuple[User, dict]] | None = None
    qa: dict[int, dict] = field(default_factory=dict)  # per operator: QA reviews done and mean score (app.qa)
    charts: list[chart.Chart] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [self.period.label(row["start"]) for row in self.figures.intervals]


def build(period: Period, *, service_level: int, tenant: Tenant | None = None, operator: User | None = None,
          per_firm: bool = False, per_operator: bool = False, only: str | None = None) -> Report:
    """The report of the page, or with ``only`` ("intervals", "firms", "operators") just that table
    (a CSV download): each table is a query of its own."""
    def wanted(table: str) -> bool:
        return only is None or only == table

    found = Figures({}, [])
    if wanted("intervals"):
        found = figures(period.since, period.until, tenant=tenant, operator=operator, interval=period.interval,
                        zone=period.zone, service_level=service_level)
    report = Report(period, found)
    if per_firm and operator is None and wanted("firms"):  # one operator's figures come per interval only
        rows = by_tenant(period.since, period.until, service_level=service_level)
        if tenant is not None:
            report.firms = [(t, f) for t, f in rows if t.id == tenant.id]
        else:  # thousands of firms may be quiet on a day: those with something to count
            report.firms = [(t, f) for t, f in rows if any(f[k] for k in KEYS if k not in RATES)]
    if per_operator and wanted("operators"):
        report.operators = by_operator(period.since, period.until, tenant=tenant, service_level=service_level)
        report.qa = qa.figures(period.since, period.until, tenant=tenant)
    if only is None:
        report.charts = charts(report)
    return report


def charts(report: Report) -> list[chart.Chart]:
    labels, totals = report.labels, report.figures.totals
    # The part of the calls offered neither answered nor abandoned: still waiting when counted.
    rows = [{**r, "waiting": r["offered"] - r["answered"] - r["abandoned"]} for r in report.figures.intervals]
    target = round(SERVICE_LEVEL_TARGET * 100)
    return [
        chart.stacked(rows, labels, [("answered", _("Answered")), ("abandoned", _("Abandoned")),
                                     ("waiting", _("Still waiting"))],
                      _("Calls offered per interval"),
                      _("Offered {offered}: answered {answered}, abandoned {abandoned}.").format(
                          offered=totals["offered"], answered=totals["answered"], abandoned=totals["abandoned"])),
        chart.rate_line(rows, labels, "service_level", _("Service level"), _("Service level per interval"),
                        _("Service level {value} against a target of {target}.").format(
                            value=percent(totals["service_level"]), target=f"{target}%"),
                        target=SERVICE_LEVEL_TARGET, target_label=_("Target {target}").format(target=f"{target}%")),
        chart.bars(rows, labels, "asa_s", _("Average speed of answer"), _("Average speed of answer per interval"),
                   _("Average speed of answer: {value}.").format(value=seconds(totals["asa_s"])),
                   unit=_("s")),
    ]


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def seconds(value: float | None) -> str:
    return "—" if value is None else _("{seconds} s").format(seconds=f"{value:.1f}")


def qa_cells(found: dict | None) -> tuple:
    """An operator's QA columns: reviews done and mean score; blank when none was reviewed."""
    if not found:
        return ("", "")
    return (found["reviewed"], "" if found["score"] is None else f"{found['score']:.1f}")


def csv_bytes(report: Report, table: str, locale: str) -> bytes:
    """One table of the report (``intervals`` with a total row, ``firms`` or ``operators``) as CSV for
    Excel: UTF-8 with a byte-order mark, CRLF, labels in the reader's language."""
    with i18n.use_locale(locale):
        heads = [_(LABELS[k]) for k in KEYS]
        if table == "firms":
            rows = [[_("Firm"), *heads]] + [[t.name, *(shown(k, f[k]) for k in KEYS)] for t, f in report.firms or []]
        elif table == "operators":
            rows = [[_("Operator"), *heads, _("QA reviewed"), _("QA score")]]
            rows += [[u.label, *(shown(k, f[k]) for k in KEYS), *qa_cells(report.qa.get(u.id))]
                     for u, f in report.operators or []]
        else:
            rows = [[_("Interval start"), *heads]]
            rows += [[f"{r['start']:%Y-%m-%d %H:%M}", *(shown(k, r[k]) for k in KEYS)] for r in report.figures.intervals]
            rows.append([_("Total"), *(shown(k, report.figures.totals[k]) for k in KEYS)])
    return csv_lines(rows, first=True)
