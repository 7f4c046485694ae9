"""QA review of operators' messages (models.py) and its figures per operator, for the KPI pages."""

from __future__ import annotations

import datetime as dt


def figures(since: dt.datetime, until: dt.datetime, *, tenant=None) -> dict[int, dict]:
    """QA per operator over the messages they took in [since, until) (at ``tenant`` only, if given):
    ``{user_id: {"reviewed": reviews done, "score": their mean score (0–100, one decimal) or None}}``.
    Only operators with a reviewed message are listed; a review whose items were all n/a counts as
    reviewed but not in the score."""
    import peewee as pw

    from ..messages.models import Message
    from .models import QAReview

    where = (Message.taken_at >= since) & (Message.taken_at < until) & QAReview.reviewed_at.is_null(False)
    if tenant is not None:
        where &= Message.tenant == tenant
    rows = (QAReview.select(QAReview.operator, pw.fn.COUNT(QAReview.id), pw.fn.AVG(QAReview.score))
            .join(Message).where(where).group_by(QAReview.operator).tuples())
    return {user_id: {"reviewed": count, "score": None if mean is None else round(float(mean), 1)}
            for user_id, count, mean in rows}
