"""Taking the message during a call (form, drafts, read-back, noise calls, escalation), and the
staff's message pages: list, detail with read-back marks and history, corrections."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import phones
from ..accounts.models import ADMIN, STAFF_ROLES, SUPERVISOR
from ..calls.models import Call
from ..db import utcnow
from ..i18n import _
from ..tenants.models import CATEGORIES, Staff, Tenant
from ..web.auth import row_or_404, view
from ..web.templates import render
from . import forms, service
from .forms import Entry, Form
from .models import Escalation, Message, MessageRead, MessageVersion

CORRECTORS = frozenset({ADMIN, SUPERVISOR})
PAGE = 50


def _firm_call(request: Request) -> Call:
    """A call of a known firm: a message needs one (an unknown number's call can only be escalated)."""
    call = row_or_404(Call, request)
    if call.tenant is None:
        raise HTTPException(404)
    return call


def _keep_draft(request: Request, call: Call, form: Form, chosen: Form | None = None) -> tuple[Entry, dict]:
    """Read what the form submitted (typed under ``form``) and keep it as the operator's draft,
    switched to the ``chosen`` call type if another one was picked."""
    user = request.state.user
    entry = _entry(request.state.form, form, call.tenant, list(call.tenant.staff))
    merged = _merge(service.draft_for(user, call), entry, form)
    if chosen is not None and chosen.key != form.key:
        # The category follows the call type unless the operator chose one.
        if merged["category"] == form.category:
            merged["category"] = chosen.category
        # So does urgency, preset by the call type (``urgent = true``), unless the operator changed it.
        if merged["urgent"] == form.urgent:
            merged["urgent"] = chosen.urgent
        merged["call_type"] = chosen.key
    merged["saved_at"] = utcnow().isoformat()
    service.save_draft(user, call, merged)
    return entry, merged


def _typed_form(call: Call, data: FormData) -> Form:
    """The call type the fields on the screen were typed under."""
    return forms.form_of(call.tenant, data.get("typed_call_type")) or forms.form_of(call.tenant, None)


def _entry(form_data: FormData, form: Form, tenant: Tenant, staff: list[Staff]) -> Entry:
    """What the message form submitted. A read-back box counts only for the value it was ticked for
    (the page keeps that value beside it): editing a confirmed field withdraws its confirmation."""
    fields = {key[6:]: value for key, value in form_data.multi_items() if key.startswith("field.")}
    for key, picked in form_data.multi_items():
        # The addressee chosen from the firm's staff is their key; "other": the name typed beside it.
        if key.startswith("pick.") and picked != "other":
            fields[key[5:]] = picked
    confirmed = set()
    for key in form_data.getlist("readback"):
        f = form.field(key)
        if f is not None and forms.same_value(f, form_data.get(f"confirmed.{key}", ""), fields.get(key, ""),
                                              tenant, staff):
            confirmed.add(key)
    category = form_data.get("category") or None
    return Entry(form.key, category, form_data.get("urgent") == "1", fields, confirmed)


def _merge(old: dict, entry: Entry, form: Form) -> dict:
    """The draft after this change: values typed under other call types are kept, so switching
    back and forth loses nothing; a confirmation keeps its time while its value stays."""
    now = utcnow().isoformat()
    old_confirmed = old.get("confirmed", {})
    confirmed = {k: v for k, v in old_confirmed.items() if form.field(k) is None}
    for key in entry.confirmed:
        value = entry.fields.get(key, "")
        previous = old_confirmed.get(key)
        confirmed[key] = previous if previous and previous["value"] == value else {"value": value, "at": now}
    return {"call_type": form.key, "category": entry.category or form.category, "urgent": entry.urgent,
            "fields": {**old.get("fields", {}), **entry.fields}, "confirmed": confirmed}


def panel_context(call: Call, draft: dict, errors: dict | None = None, form: Form | None = None,
                  staff: list[Staff] | None = None) -> dict:
    """What the message form shows: the draft's values (the caller's number as the default callback
    number), its confirmations that still hold, the problems of a refused save. ``staff``: the firm's
    (``Staff.of_firm``), when the caller has loaded them already."""
    tenant = call.tenant
    staff = Staff.of_firm(tenant) if staff is None else staff
    all_forms = forms.forms_of(tenant)
    form = form or next((f for f in all_forms if f.key == draft.get("call_type")), all_forms[0])
    values = dict(draft.get("fields", {}))
    if "callback_number" not in values and call.from_number:
        values["callback_number"] = phones.display(call.from_number, tenant.region)
    confirmed = {k: v["value"] for k, v in draft.get("confirmed", {}).items() if values.get(k, "") == v["value"]}
    return {"call": call, "firm": tenant, "form": form, "forms": all_forms, "values": values,
            "confirmed": confirmed, "category": draft.get("category") or form.category,
            # Until the operator touches it, urgency is the call type's preset.
            "urgent": bool(draft["urgent"] if "urgent" in draft else form.urgent), "categories": forms.category_choices(),
            "staff": staff, "errors": errors or {},
            "noise": forms.NOISE_LABELS, "saved_at": draft.get("saved_at"),
            "transfer_staff": _transfer_staff(tenant, form, staff)}


def _transfer_staff(tenant: Tenant, form: Form, staff: list[Staff]) -> list:
    """Whom this call type may be put through to (取次), with whether they are in, in the file's order."""
    if not form.transfer_to_staff:
        return []
    board = {e.key: e for e in Staff.board(tenant, staff=staff)}
    return [board[key] for key in form.transfer_to_staff if key in board]


def _panel(request: Request, call: Call, draft: dict, errors: dict | None = None, status_code: int = 200,
           form: Form | None = None):
    return render(request, "messages/_form.html", panel_context(call, draft, errors, form), status_code=status_code)


def _form_for(call: Call, data: FormData) -> Form:
    form = forms.form_of(call.tenant, data.get("call_type"))
    if form is None:
        raise HTTPException(422)
    return form


@view(roles=STAFF_ROLES)
def draft(request: Request):
    """Called as the operator types: keep everything on the server. With ?switch=1 (another call
    type chosen) the form comes back for that type, with what was typed."""
    call = _firm_call(request)
    typed_form = _typed_form(call, request.state.form)
    new_form = _form_for(call, request.state.form)
    merged = _keep_draft(request, call, typed_form, new_form)[1]
    if new_form.key != typed_form.key or request.query_params.get("switch"):
        return _panel(request, call, merged)
    return render(request, "messages/_draft_saved.html", {
        "form": new_form, "values": merged["fields"], "firm": call.tenant, "saved_at": merged["saved_at"]})


@view(roles=STAFF_ROLES)
def save(request: Request):
    """Save the message. Refused, with every problem named and everything typed kept, while a
    required field is empty or a read-back field is unconfirmed."""
    call = _firm_call(request)
    form = _typed_form(call, request.state.form)
    entry, merged = _keep_draft(request, call, form)  # a refused save loses nothing either
    clean, errors = forms.check(call.tenant, entry)
    if errors:
        return _panel(request, call, merged, errors, status_code=422, form=form)
    confirmed_at = {k: v["at"] for k, v in merged["confirmed"].items()}
    message = service.record(call.tenant, clean, request.state.user, call=call, confirmed_at=confirmed_at)
    service.announce(request.app, message)
    return _saved(request, message)


@view(roles=STAFF_ROLES)
def noise(request: Request):
    """One click for a call nobody needs a message for (sales, wrong number, prank, silent, hung up)."""
    call = _firm_call(request)
    category = request.state.form.get("category")
    if category not in forms.NOISE_CATEGORIES:
        raise HTTPException(422)
    clean, errors = forms.check(call.tenant, Entry(category=category))
    message = service.record(call.tenant, clean, request.state.user, call=call)
    service.announce(request.app, message)
    return _saved(request, message)


def _saved(request: Request, message: Message):
    # The after-call work is over: the screen pop's call state and availability fetch themselves again.
    return render(request, "messages/_saved.html", detail_context(message), headers={"HX-Trigger": "desk-changed"})


@view(roles=STAFF_ROLES)
def escalate_call(request: Request):
    call = row_or_404(Call, request)
    return _escalate(request, tenant=call.tenant, call=call)


@view(roles=STAFF_ROLES)
def escalate_message(request: Request):
    message = row_or_404(Message, request)
    return _escalate(request, tenant=message.tenant, call=message.call, message=message)


def _escalate(request: Request, **target):
    reason = (request.state.form.get("reason") or "").strip()
    if not reason:
        return render(request, "messages/_escalate.html",
                      {"action": request.url.path, "reason": "", "error": _("Say why: the supervisor reads it first.")},
                      status_code=422)
    Escalation.create(raised_by=request.state.user, reason=reason, **target)
    request.app.state.events.publish("escalations", {"event": "raised"})
    return render(request, "messages/_escalated.html", {"reason": reason})


# --------------------------------------------------------------------------------------------
# the staff's message pages

def detail_context(message: Message) -> dict:
    tenant = message.tenant
    form = forms.form_of(tenant, message.call_type)
    staff = list(tenant.staff.order_by(Staff.position))
    return {"message": message, "firm": tenant, "form": form, "rows": forms.rows_of(message, form),
            "categories": forms.category_choices(),
            "staff_by_key": {s.key: s for s in staff}, "staff": staff,
            "versions": list(message.versions.order_by(MessageVersion.number.desc()))}


@view(roles=STAFF_ROLES)
def message_list(request: Request):
    query = Message.select(Message, Tenant).join(Tenant).order_by(Message.taken_at.desc(), Message.id.desc())
    firm = request.query_params.get("firm")
    category = request.query_params.get("category")
    if firm:
        query = query.where(Tenant.slug == firm)
    if category in CATEGORIES:
        query = query.where(Message.category == category)
    return render(request, "messages/list.html", {
        "messages": list(query.limit(PAGE)), "firm": firm or "", "category": category or "",
        "firms": list(Tenant.listed()),
        "categories": forms.category_choices()})


@view(roles=STAFF_ROLES)
def message_detail(request: Request):
    message = row_or_404(Message, request)
    return render(request, "messages/detail.html", {
        **detail_context(message), "can_correct": request.state.user.role in CORRECTORS,
        "first_read": MessageRead.first(message)})


@view(roles=CORRECTORS)
def correct(request: Request):
    """A supervisor's correction: same checks as taking it, but nothing can be read back now."""
    message = row_or_404(Message, request)
    data = request.state.form
    tenant = message.tenant
    form = _form_for_message(message, data)
    entry = _entry(data, form, tenant, list(tenant.staff))
    clean, errors = forms.check(tenant, entry, enforce_readback=False)
    context = {**detail_context(message), "can_correct": True}
    if errors:
        context.update(errors=errors, values=entry.fields, note=data.get("note", ""))
        return render(request, "messages/detail.html", context, status_code=422)
    try:
        service.correct(message, clean, request.state.user, note=(data.get("note") or "").strip())
    except service.Conflict:
        context.update(errors={"version": _("Somebody else corrected this message meanwhile: look again.")})
        return render(request, "messages/detail.html", context, status_code=409)
    return Response(status_code=303, headers={"Location": f"/messages/{message.id}"})


def _form_for_message(message: Message, data: FormData) -> Form:
    form = forms.form_of(message.tenant, data.get("call_type") or message.call_type)
    return form or forms.form_of(message.tenant, None)


@view(roles=STAFF_ROLES)
def handled(request: Request):
    message = row_or_404(Message, request)
    service.set_handled(message, request.state.form.get("handled") == "1", request.state.user)
    return Response(status_code=303, headers={"Location": f"/messages/{message.id}"})


# --------------------------------------------------------------------------------------------
# escalations, for supervisors

@view(roles=CORRECTORS)
def resolve(request: Request):
    escalation = row_or_404(Escalation, request)
    Escalation.update(resolved_by=request.state.user, resolved_at=utcnow(),
                      resolution=(request.state.form.get("resolution") or "").strip()).where(
        (Escalation.id == escalation.id) & Escalation.resolved_at.is_null()).execute()
    request.app.state.events.publish("escalations", {"event": "resolved"})
    if request.headers.get("hx-request"):
        return Response(status_code=204)  # every supervisor's screen drops it from the stream
    return Response(status_code=303, headers={"Location": "/supervisor"})
