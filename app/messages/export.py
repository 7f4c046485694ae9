"""Messages as CSV for spreadsheet programs (the portal's export and GET /api/v1/messages.csv): what
Excel on a Japanese Windows PC opens correctly with a double-click — UTF-8 with a byte-order mark
(without it Excel reads Shift_JIS), CRLF line ends, a label per column in the reader's language."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import peewee as pw

from .. import i18n, phones
from ..accounts.models import User
from ..i18n import _
from ..tenants.labels import CATEGORY_LABELS, FIELD_LABELS
from ..tenants.models import STANDARD_FIELDS, Staff, Tenant
from . import forms, inbox
from .models import Message

BOM = "\ufeff"
# A cell Excel would run as a formula (CSV injection): shown as text by a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(rows, *, first: bool = False) -> bytes:
    """Rows as CSV lines Excel reads: CRLF, every cell made safe; ``first``: the file's start, with
    the byte-order mark."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([[cell(v) for v in row] for row in rows])
    return ((BOM if first else "") + buffer.getvalue()).encode("utf-8")


class Writer:
    """The columns for the messages of ``tenants`` (several only for staff), then one row per message."""

    def __init__(self, tenants: list[Tenant], locale: str, with_firm: bool = False):
        self.tenants = {t.id: t for t in tenants}
        self.locale = locale
        self.many = with_firm or len(tenants) > 1  # a column naming each row's firm
        self.phone_keys = {"callback_number"}
        extra: dict[str, str] = {}
        for firm_forms in forms.forms_by_tenant(list(self.tenants)).values():
            for form in firm_forms:
                for f in form.fields:
                    if f.type == "phone":
                        self.phone_keys.add(f.key)
                    if not f.standard and f.key not in STANDARD_FIELDS:
                        extra.setdefault(f.key, f.label)
        self.field_keys = [*STANDARD_FIELDS, *extra]
        self.extra_labels = extra
        self.staff = {(s.tenant_id, s.key): s.name for s in Staff.select(Staff.tenant, Staff.key, Staff.name)
                      .where(Staff.tenant.in_(list(self.tenants)))}

    def _label(self, key: str) -> str:
        return _(FIELD_LABELS[key]) if key in FIELD_LABELS else self.extra_labels.get(key, key)

    def header(self) -> list[str]:
        with i18n.use_locale(self.locale):
            return ["ID", _("Taken at"), *([_("Firm")] if self.many else []), _("Category"), _("Urgent"),
                    _("Call type"), *(self._label(k) for k in self.field_keys), _("Other fields"), _("Read back"),
                    _("Handled"), _("Handled at"), _("Handling note"), _("Taken by")]

    def row(self, m: Message, names: dict[int, str]) -> list[str]:
        tenant = self.tenants[m.tenant_id]
        zone = tenant.zone

        def value(key: str) -> str:
            v = m.fields.get(key, "")
            if v and key in self.phone_keys:
                return phones.display(v, tenant.region)
            if v and key == "for_staff":
                return self.staff.get((tenant.id, v), v)
            return v

        others = "\n".join(f"{m.labels.get(k, k)}: {v}" for k, v in m.fields.items() if k not in self.field_keys)
        return [str(m.id), m.taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                *([tenant.name] if self.many else []), _(CATEGORY_LABELS[m.category]), _("Urgent") if m.urgent else "",
                m.call_type_label or _("Message"), *(value(k) for k in self.field_keys), others,
                "、".join(m.labels.get(k) or self._label(k) for k in m.readback),
                _("Handled") if m.handled else _("Not handled"), m.handled_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if m.handled_at else "",
                m.handled_note, names.get(m.taken_by_id, _("Voicemail") if m.source == "voicemail" else "")]

    def stream(self, query: pw.ModelSelect) -> Iterator[bytes]:
        """The file, a page of messages at a time (every page of ``query``, newest first)."""
        yield csv_lines([self.header()], first=True)

        def page(messages: list[Message]) -> bytes:
            ids = {m.taken_by_id for m in messages if m.taken_by_id}
            names = {u.id: u.name or u.email for u in User.select(User.id, User.name, User.email)
                     .where(User.id.in_(ids))} if ids else {}
            with i18n.use_locale(self.locale):
                return csv_lines([self.row(m, names) for m in messages])

        yield from inbox.every(query, page)


def filename(tenant: Tenant | None, today) -> str:
    return f"messages-{tenant.slug + '-' if tenant else ''}{today:%Y%m%d}.csv"

