"""The weekly QA sample: run by the worker for the week just ended, and by a supervisor's 「今すぐ抽出」."""

from __future__ import annotations

import datetime as dt

from ..db import utcnow
from .models import QAReview, QASetting, week_of


def sample_weeks(now: dt.datetime | None = None, *, current: bool = False) -> int:
    """Queue the sample of the week that ended last (and, ``current``, of this week so far), at the
    size set now. Running it again adds nothing (QAReview.sample). Returns how many were queued."""
    this_week = week_of(now or utcnow())
    weeks = [this_week - dt.timedelta(days=7)] + ([this_week] if current else [])
    size = QASetting.sample_size_for()
    return sum(QAReview.sample(monday, size) for monday in weeks)
