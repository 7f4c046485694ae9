"""Every model, in dependency order: for migrations, test set-up and tools that need them all."""

from .accounts.models import ApiToken, Invitation, LoginAttempt, PasswordReset, Session, User
from .api.models import IdempotencyKey
from .audit import AuditEntry
from .calls.models import BlockedNumber, Call, OperatorPresence, Transfer
from .calls.provider import ProviderKey
from .delivery.models import Delivery
from .handover.models import HandoverNote, HandoverRead
from .messages.models import Draft, Escalation, Message, MessageRead, MessageVersion
from .presence.models import Notice
from .qa.models import QAReview, QASetting
from .reports.models import ReportRun, ReportRunMessage
from .stats.rollup import StatsDay, StatsDirty, StatsFirm, StatsOperatorDay, StatsZoneDay
from .tenants.models import (
    CallType, CallTypeField, NotifyRule, Recipient, ReportRule, Staff, Tenant, TenantNumber,
)
from .tenants.requests import ChangeRequest
from .tenants.versions import TenantVersion

MODELS = [
    Tenant, TenantNumber, Staff, CallType, CallTypeField, ReportRule, NotifyRule, Recipient,
    User, Session, ApiToken, LoginAttempt, AuditEntry, Call, OperatorPresence,
    ProviderKey, Message, MessageVersion, Draft, Escalation, ReportRun, Delivery, IdempotencyKey,
    BlockedNumber, Invitation, MessageRead, ReportRunMessage, Notice, TenantVersion,
    ChangeRequest,
    PasswordReset, Transfer,
    StatsDay, StatsFirm, StatsDirty, StatsZoneDay, StatsOperatorDay,
    HandoverNote, HandoverRead, QASetting, QAReview,
]
