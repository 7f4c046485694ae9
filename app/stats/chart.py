"""Charts of the figures as inline SVG, drawn on the server from the very rows the tables show.

Horizontal positions are percentages of the chart's width and vertical ones pixels, so a chart fills
any width (375 px to a desktop) while its text keeps its size: nothing is scaled by a viewBox."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PLOT_TOP, PLOT_HEIGHT, AXIS = 14, 160, 22  # px: room above the top gridline's label, the plot, the time labels
HEIGHT = PLOT_TOP + PLOT_HEIGHT + AXIS
BAR = 0.72  # of each interval's slot; the rest is the gap between bars
MAX_TIME_LABELS = 6


@dataclass
class Rect:
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    kind: str  # the series, a CSS class
    title: str  # what a pointer over it shows


@dataclass
class Chart:
    title: str
    desc: str
    height: int = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    lines: list[tuple[float, float, float, float]] = field(default_factory=list)  # x1 %, y1 px, x2 %, y2 px
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x %, y px, title
    grid: list[tuple[float, str]] = field(default_factory=list)  # y px, label
    target: tuple[float, str] | None = None  # y px, label
    times: list[tuple[float, str]] = field(default_factory=list)  # x %, label
    baseline: float = PLOT_TOP + PLOT_HEIGHT
    legend: list[tuple[str, str]] = field(default_factory=list)  # (series CSS class, label)


def nice_top(value: float) -> float:
    """The top of a scale of four equal steps reaching ``value``, each step a round whole number
    (1, 2, 3, 4, 5, 6, 8 × 10ⁿ, or 15, 25, … from ten up), so every gridline has a round label."""
    need = max(value, 1) / 4
    power = 10 ** max(0, math.floor(math.log10(need)))
    steps = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if power > 1 else (1, 2, 3, 4, 5, 6, 8, 10)
    return 4 * next(round(step * power) for step in steps if step * power >= need)


def _y(value: float, top: float) -> float:
    return round(PLOT_TOP + PLOT_HEIGHT * (1 - value / top), 1)


def _grid(top: float, fmt) -> list[tuple[float, str]]:
    return [(_y(top * i / 4, top), fmt(top * i / 4)) for i in range(5)]


def _times(labels: list[str]) -> list[tuple[float, str]]:
    """Time labels at the start of every few intervals; none so near the right edge that it would be cut."""
    n = len(labels)
    step = max(1, math.ceil(n / MAX_TIME_LABELS))
    return [(round(100 * i / n, 3), labels[i]) for i in range(0, n, step) if i == 0 or i / n <= 0.85]


def _slot(i: int, n: int) -> tuple[float, float]:
    slot = 100 / n
    return round(slot * i + slot * (1 - BAR) / 2, 3), round(slot * BAR, 3)


def _count(v: float) -> str:
    return f"{v:g}"


def stacked(rows: list[dict], labels: list[str], series: list[tuple[str, str]], title: str, desc: str) -> Chart:
    """Bars of each row's ``series`` (key, label) stacked bottom up."""
    top = nice_top(max((sum(r[k] or 0 for k, _ in series) for r in rows), default=0))
    chart = Chart(title, desc, grid=_grid(top, _count), times=_times(labels), legend=list(series))
    for i, (row, label) in enumerate(zip(rows, labels)):
        x, width = _slot(i, len(rows))
        below = 0
        for key, name in series:
            value = row[key] or 0
            if value:
                chart.rects.append(Rect(x, width, _y(below + value, top), round(PLOT_HEIGHT * value / top, 1), key,
                                        f"{label} {name} {value:g}"))
            below += value
    return chart


def bars(rows: list[dict], labels: list[str], key: str, name: str, title: str, desc: str, unit: str = "") -> Chart:
    """One bar per row of ``key``; a row without a value (None) has none."""
    top = nice_top(max((r[key] or 0 for r in rows), default=0))
    chart = Chart(title, desc, grid=_grid(top, lambda v: f"{v:g}{unit}"), times=_times(labels), legend=[(key, name)])
    for i, (row, label) in enumerate(zip(rows, labels)):
        if row[key]:
            x, width = _slot(i, len(rows))
            chart.rects.append(Rect(x, width, _y(row[key], top), round(PLOT_HEIGHT * row[key] / top, 1), key,
                                    f"{label} {name} {row[key]:g}{unit}"))
    return chart


def rate_line(rows: list[dict], labels: list[str], key: str, name: str, title: str, desc: str,
              target: float | None = None, target_label: str = "") -> Chart:
    """A line of a rate (0–1) per row, as a percentage, joined between neighbouring rows that have one,
    with the target as a dashed line."""
    chart = Chart(title, desc, grid=_grid(100, lambda v: f"{v:g}%"), times=_times(labels), legend=[(key, name)])
    previous = None
    for i, (row, label) in enumerate(zip(rows, labels)):
        value = row[key]
        if value is None:  # nobody called: no rate, a gap in the line
            previous = None
            continue
        x = round(100 * (i + 0.5) / len(rows), 3)
        y = _y(value * 100, 100)
        chart.points.append((x, y, f"{label} {name} {value * 100:.1f}%"))
        if previous:
            chart.lines.append((*previous, x, y))
        previous = (x, y)
    if target is not None:
        chart.target = (_y(target * 100, 100), target_label)
        chart.legend.append(("target", target_label))
    return chart
