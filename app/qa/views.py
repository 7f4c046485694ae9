"""QA review pages: the supervisors' queue and sample size (/qa), one message's review (/qa/reviews/{id}),
and the operator's own feedback (/console/feedback)."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import qa
from ..accounts.models import MANAGERS, STAFF_ROLES, User
from ..db import utcnow
from ..i18n import _
from ..messages import views as message_views
from ..web.auth import row_or_404, view
from ..web.templates import render
from . import service
from .models import CHECKS, MAX_COMMENT, MAX_SAMPLE_SIZE, NA, OUTCOMES, QAReview, QASetting, week_bounds, week_of

RECENT = 30
FIGURE_WEEKS = 4


def _figures(now: dt.datetime) -> tuple[list[dict], str, str]:
    """Per operator over the last FIGURE_WEEKS weeks (this one included): reviews done and mean score."""
    this_week = week_of(now)
    since, _until = week_bounds(this_week - dt.timedelta(days=7 * (FIGURE_WEEKS - 1)))
    until = week_bounds(this_week)[1]
    numbers = qa.figures(since, until)
    users = {u.id: u for u in User.select().where(User.id.in_(list(numbers) or [0]))}
    rows = [{"user": users[i], **numbers[i]} for i in numbers if i in users]
    rows.sort(key=lambda r: r["user"].label)
    return rows, since.strftime("%m/%d"), (until - dt.timedelta(days=1)).strftime("%m/%d")


def _page(request: Request, errors=None, status_code: int = 200, sampled: int | None = None):
    now = utcnow()
    figures, since, until = _figures(now)
    recent = list(QAReview.recent(RECENT))
    return render(request, "qa/index.html", {
        "to_review": list(QAReview.waiting()), "recent": recent, "figures": figures, "since": since, "until": until,
        "sample_size": QASetting.sample_size_for(), "max_size": MAX_SAMPLE_SIZE, "errors": errors or {},
        "sampled": sampled,
    }, status_code=status_code)


@view(roles=MANAGERS)
def queue(request: Request):
    return _page(request, sampled=int(request.query_params["sampled"]) if request.query_params.get("sampled", "").isdigit() else None)


@view(roles=MANAGERS)
def settings(request: Request):
    """The weekly sample size per operator."""
    text = request.state.form.get("sample_size", "").strip()
    if not (text.isascii() and text.isdigit() and 0 <= int(text) <= MAX_SAMPLE_SIZE):
        return _page(request, {"sample_size": _("A whole number from 0 to {n}.").format(n=MAX_SAMPLE_SIZE)}, 422)
    QASetting.set_sample_size(int(text), request.state.user)
    return RedirectResponse("/qa", status_code=303)


@view(roles=MANAGERS)
def sample_now(request: Request):
    """Queue last week's sample and this week's so far, without waiting for the worker."""
    return RedirectResponse(f"/qa?sampled={service.sample_weeks(current=True)}", status_code=303)


def _review_context(review: QAReview) -> dict:
    return {"review": review, **message_views.detail_context(review.message), "checks": CHECKS, "outcomes": OUTCOMES}


@view(roles=MANAGERS)
def review(request: Request):
    """One sampled message against the checklist: each item pass, fail or n/a, and a comment."""
    item = row_or_404(QAReview, request)
    if request.method == "GET":
        return render(request, "qa/review.html", {**_review_context(item), "values": item.checks or {},
                                                  "comment": item.comment, "errors": {}})
    form = request.state.form
    values = {key: form.get(f"check.{key}", "") for key in CHECKS}
    comment = form.get("comment", "").strip()
    errors = {key: _("Choose pass, fail or n/a.") for key, value in values.items() if value not in OUTCOMES}
    if len(comment) > MAX_COMMENT:
        errors["comment"] = _("At most {n} characters.").format(n=MAX_COMMENT)
    if errors:
        return render(request, "qa/review.html", {**_review_context(item), "values": values, "comment": comment,
                                                  "errors": errors}, status_code=422)
    item.record(values, comment, request.state.user)
    # Straight on to the next one waiting, as a reviewer works through the queue.
    following = QAReview.waiting().where(QAReview.id != item.id).first()
    return RedirectResponse(f"/qa/reviews/{following.id}" if following else "/qa", status_code=303)


@view(roles=STAFF_ROLES)
def feedback(request: Request):
    """The operator's own reviewed messages, latest first."""
    user = request.state.user
    reviews = list(QAReview.feedback_for(user))
    scored = [r.score for r in reviews if r.score is not None]
    return render(request, "qa/feedback.html", {"reviews": reviews, "checks": CHECKS, "outcomes": OUTCOMES, "na": NA,
                                                "mean": round(sum(scored) / len(scored)) if scored else None})


@view(roles=STAFF_ROLES)
def feedback_detail(request: Request):
    """One review of the operator's own message; anyone else's is 404, whatever their role."""
    item = QAReview.get_or_none((QAReview.id == request.path_params["id"]) & (QAReview.operator == request.state.user)
                                & QAReview.reviewed_at.is_null(False))
    if item is None:
        raise HTTPException(404)
    return render(request, "qa/feedback_detail.html", _review_context(item))
