"""QA review: each week a sample of every operator's messages, reviewed against a checklist."""

from __future__ import annotations

import datetime as dt
import hashlib

import peewee as pw

from ..accounts.models import User
from ..days import SERVICE_ZONE, day_bounds
from ..db import BaseModel, JSONField, UTCDateTimeField, utcnow
from ..i18n import N_
from ..messages.models import OPERATOR, Message
from ..tenants.models import Tenant

# The checklist, in the order a reviewer goes through a message.
CHECKS = {
    "greeting": N_("Answer phrase (名乗り) as configured"),
    "readback": N_("Read-back done"),
    "fields": N_("Required fields complete and plausible"),
    "category": N_("Category right"),
    "instructions": N_("The firm's instructions followed"),
}
PASS, FAIL, NA = "pass", "fail", "na"
OUTCOMES = {PASS: N_("Pass"), FAIL: N_("Fail"), NA: N_("n/a")}

# The service's week runs Monday to Sunday in Japan, like its shifts.
ZONE = SERVICE_ZONE
DEFAULT_SAMPLE_SIZE = 5
MAX_SAMPLE_SIZE = 100
MAX_COMMENT = 2000
FLOOR = "main"  # one floor today; the setting is kept per floor so a second one needs no migration


def week_of(at: dt.datetime) -> dt.date:
    """The Monday (in Japan) of the week ``at`` falls in."""
    day = at.astimezone(ZONE).date()
    return day - dt.timedelta(days=day.weekday())


def week_bounds(monday: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return day_bounds(monday, monday + dt.timedelta(days=6), ZONE)


def score_of(checks: dict[str, str]) -> int | None:
    """The share of the applicable items passed, 0–100; None when none applies."""
    passed = sum(1 for v in checks.values() if v == PASS)
    applicable = passed + sum(1 for v in checks.values() if v == FAIL)
    return round(100 * passed / applicable) if applicable else None


class QASetting(BaseModel):
    """How many messages of each operator are sampled every week, set by a supervisor."""

    floor = pw.CharField(max_length=40, unique=True, default=FLOOR)
    sample_size = pw.IntegerField(default=DEFAULT_SAMPLE_SIZE)
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def sample_size_for(cls, floor: str = FLOOR) -> int:
        row = cls.get_or_none(cls.floor == floor)
        return row.sample_size if row else DEFAULT_SAMPLE_SIZE

    @classmethod
    def set_sample_size(cls, size: int, by: User, floor: str = FLOOR) -> None:
        values = {"sample_size": size, "updated_by": by, "updated_at": utcnow()}
        if cls.update(**values).where(cls.floor == floor).execute() == 0:
            try:
                cls.create(floor=floor, **values)
            except pw.IntegrityError:  # another supervisor's first save won the race: theirs, then ours
                cls.update(**values).where(cls.floor == floor).execute()


class QAReview(BaseModel):
    """One sampled message: waiting for review until ``reviewed_at``; then each checklist item's outcome,
    the score and the reviewer's comment, which the operator who took the message reads."""

    message = pw.ForeignKeyField(Message, unique=True, on_delete="CASCADE", backref="qa_reviews")
    operator = pw.ForeignKeyField(User, on_delete="CASCADE", backref="qa_reviews")
    week = pw.DateField()  # its Monday
    sampled_at = UTCDateTimeField(default=utcnow)
    reviewer = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="qa_reviews_done")
    reviewed_at = UTCDateTimeField(null=True)
    checks = JSONField(default=dict)  # {check key: "pass" | "fail" | "na"}
    score = pw.IntegerField(null=True)
    comment = pw.TextField(default="")

    class Meta:
        indexes = ((("operator", "week"), False), (("reviewed_at",), False))

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None

    @classmethod
    def sample(cls, monday: dt.date, size: int) -> int:
        """Queue up to ``size`` of each operator's messages of that week for review. The choice is a
        hash of the week and the message, so it is random yet the same on every run: running it again
        (or at once on two workers) adds nothing, and run mid-week, it only tops each operator up to
        ``size``. Returns how many were queued."""
        since, until = week_bounds(monday)
        taken = (Message.select(Message.id, Message.taken_by)
                 .where((Message.taken_at >= since) & (Message.taken_at < until) & Message.taken_by.is_null(False)
                        & (Message.source == OPERATOR)).tuples())
        by_operator: dict[int, list[int]] = {}
        for message_id, user_id in taken:
            by_operator.setdefault(user_id, []).append(message_id)
        if not by_operator:
            return 0
        have = dict(cls.select(cls.operator, pw.fn.COUNT(cls.id)).where(cls.week == monday)
                    .group_by(cls.operator).tuples())
        already = {m for (m,) in cls.select(cls.message).where(cls.week == monday).tuples()}
        rows = []
        for user_id, ids in by_operator.items():
            wanted = size - have.get(user_id, 0)
            if wanted <= 0:
                continue
            ids.sort(key=lambda i: hashlib.sha256(f"{monday.isoformat()}:{i}".encode()).digest())
            rows += [{"message": i, "operator": user_id, "week": monday, "sampled_at": utcnow()}
                     for i in [i for i in ids if i not in already][:wanted]]
        if rows:
            cls.insert_many(rows).on_conflict_ignore().execute()
        return len(rows)

    def record(self, checks: dict[str, str], comment: str, reviewer: User) -> None:
        self.checks, self.comment, self.reviewer = checks, comment, reviewer
        self.score, self.reviewed_at = score_of(checks), utcnow()
        self.save()

    @classmethod
    def waiting(cls):
        return (cls.select(cls, Message, Tenant, User).join(Message).join(Tenant).switch(cls)
                .join(User, on=(cls.operator == User.id))
                .where(cls.reviewed_at.is_null()).order_by(cls.week.desc(), User.name, Message.taken_at))

    @classmethod
    def recent(cls, limit: int):
        return (cls.select(cls, Message, Tenant, User).join(Message).join(Tenant).switch(cls)
                .join(User, on=(cls.operator == User.id))
                .where(cls.reviewed_at.is_null(False)).order_by(cls.reviewed_at.desc(), cls.id.desc()).limit(limit))

    @classmethod
    def feedback_for(cls, user: User):
        """What the operator sees: their reviewed messages, latest first."""
        return (cls.select(cls, Message, Tenant).join(Message).join(Tenant)
                .where((cls.operator == user) & cls.reviewed_at.is_null(False))
                .order_by(cls.reviewed_at.desc(), cls.id.desc()))
