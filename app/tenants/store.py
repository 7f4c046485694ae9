"""Tenants in the database ⇄ canonical configuration: snapshot, import (all or nothing), export."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..accounts.models import User
from ..audit import AuditEntry
from ..db import db, read_then_write, utcnow
from ..i18n import _
from .config import Problem, TenantFileError, from_json, to_toml, validate
from .versions import TenantVersion
from .models import (
    WEEKDAYS, CallType, CallTypeField, NotifyRule, Recipient, ReportRule, Staff, Tenant, TenantNumber,
)

TENANT_FILE = "tenant.toml"


def snapshot(tenant: Tenant) -> dict:
    """The tenant's configuration in canonical form (the same shape ``config.validate`` returns).
    A fixed number of queries however many call types and reports (a save reads it every time)."""
    hours = None
    if tenant.hours is not None:
        hours = {**{d: tenant.hours.get(d, "") for d in WEEKDAYS},
                 "closed_on_holidays": tenant.holiday_calendar or False,
                 "after_hours": tenant.after_hours, "after_hours_message": tenant.after_hours_message}
    call_types = list(tenant.call_types.order_by(CallType.position))
    fields: dict[int, list[CallTypeField]] = {ct.id: [] for ct in call_types}
    for f in CallTypeField.select().where(CallTypeField.call_type.in_(list(fields))).order_by(CallTypeField.position):
        fields[f.call_type_id].append(f)
    reports = list(tenant.reports.order_by(ReportRule.position))
    notify = list(tenant.notify_rules.order_by(NotifyRule.position))
    by_report: dict[int, list[dict]] = {r.id: [] for r in reports}
    by_notify: dict[int, list[dict]] = {n.id: [] for n in notify}
    for r in Recipient.select().where(Recipient.report.in_(list(by_report)) | Recipient.notify.in_(list(by_notify))) \
            .order_by(Recipient.position):
        (by_report[r.report_id] if r.report_id else by_notify[r.notify_id]).append(
            {"channel": r.channel, "to": r.to, "to_staff": r.to_staff})
    return {
        "slug": tenant.slug, "name": tenant.name, "name_kana": tenant.name_kana, "language": tenant.language,
        "timezone": tenant.timezone, "region": tenant.region, "answer_phrase": tenant.answer_phrase,
        "instructions": tenant.instructions,
        "numbers": [{"number": n.number, "kind": n.kind}
                    for n in tenant.numbers.order_by(TenantNumber.position)],
        "hours": hours,
        "staff": [{"key": s.key, "name": s.name, "name_kana": s.name_kana, "title": s.title, "email": s.email,
                   "mobile": s.mobile, "fax": s.fax} for s in tenant.staff.order_by(Staff.position)],
        "call_types": [_call_type(ct, fields[ct.id]) for ct in call_types],
        "reports": [{"key": r.key, "at": r.at, "days": r.days, "skip_holidays": r.skip_holidays,
                     "include_categories": r.include_categories, "exclude_categories": r.exclude_categories,
                     "only_for_staff": r.only_for_staff, "urgent_only": r.urgent_only, "when_empty": r.when_empty,
                     "deliver": by_report[r.id]}
                    for r in reports],
        "notify": [{"urgent": n.urgent, "categories": n.categories, "deliver": by_notify[n.id]} for n in notify],
        "plan": tenant.plan,
    }


def _call_type(ct: CallType, fields: list[CallTypeField]) -> dict:
    standard = [f for f in fields if f.standard]
    return {
        "key": ct.key, "label": ct.label, "category": ct.category, "urgent": ct.urgent, "script": ct.script,
        "fields": [f.key for f in standard],
        "required": [f.key for f in standard if f.required],
        "readback": [f.key for f in standard if f.readback],
        "transfer_to_staff": list(ct.transfer_to_staff or []),
        "extra_fields": [{"key": f.key, "label": f.label, "type": f.type, "options": f.options,
                          "required": f.required, "readback": f.readback} for f in fields if not f.standard],
    }


def export(slug: str) -> str:
    tenant = Tenant.by_slug(slug)
    if tenant is None:
        raise LookupError(slug)
    return to_toml(snapshot(tenant))


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def tenant_files(path: Path) -> list[Path]:
    """A tenant.toml, a tenant folder, or a folder of tenant folders → the tenant files in it."""
    if path.is_file():
        return [path]
    if (path / TENANT_FILE).is_file():
        return [path / TENANT_FILE]
    if path.is_dir():
        return sorted(path.glob(f"*/{TENANT_FILE}"))
    return []


def read_files(files: list[Path], *, default_region: str) -> list[tuple[Path, dict]]:
    """Parse and validate every file; raise TenantFileError with every problem of every file."""
    problems: list[tuple[str, Problem]] = []
    configs: list[tuple[Path, dict]] = []
    for path in files:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append((str(path), Problem("", _("not a valid TOML file: {error}").format(error=exc))))
            continue
        config, found = validate(raw, default_region=default_region, folder_slug=path.resolve().parent.name)
        problems += [(str(path), p) for p in found]
        configs.append((path, config))
    problems += _cross_tenant_problems(configs)
    if problems:
        raise TenantFileError(problems)
    return configs


def _cross_tenant_problems(configs: list[tuple[Path, dict]]) -> list[tuple[str, Problem]]:
    """Slugs unique within the batch; numbers unique across all firms, in the batch and in the database."""
    problems = []
    slugs: dict[str, Path] = {}
    for path, config in configs:
        if config["slug"] in slugs:
            problems.append((str(path), Problem("slug", _("{slug} is also the slug of {other}").format(
                slug=config["slug"], other=slugs[config["slug"]]))))
        slugs[config["slug"]] = path
    claims = {config["slug"]: {n["number"] for n in config["numbers"]} for _path, config in configs}
    # A firm keeps the numbers it has and still lists; a number it drops is free for another.
    owners = {number: slug for number, slug in TenantNumber.select(TenantNumber.number, Tenant.slug).join(Tenant)
              .tuples() if slug not in claims or number in claims[slug]}
    for path, config in configs:
        for i, entry in enumerate(config["numbers"]):
            owner = owners.setdefault(entry["number"], config["slug"]) if entry["number"] else None
            if owner and owner != config["slug"]:
                problems.append((str(path), Problem(f"numbers[{i}].number", _(
                    '"{number}" already belongs to the firm {owner}').format(number=entry["number"], owner=owner))))
    return problems


def import_files(files: list[Path], *, default_region: str, actor: User | None = None) -> ImportResult:
    """Create or update every tenant in ``files``; all of them or, when any file is invalid, none.
    Each firm that changes gets a new version (via "file")."""
    configs = read_files(files, default_region=default_region)
    result = ImportResult()
    with db.atomic():
        existing = {t.slug: t for t in Tenant.select().where(Tenant.slug.in_([cfg["slug"] for path, cfg in configs]))}
        before = {slug: snapshot(t) for slug, t in existing.items()}
        changed = [cfg["slug"] for path, cfg in configs if before.get(cfg["slug"]) != cfg]
        # Numbers may move between firms of the same batch: free them all before assigning any.
        TenantNumber.delete().where(TenantNumber.tenant.in_(
            [existing[slug] for slug in changed if slug in existing])).execute()
        for path, config in configs:
            slug = config["slug"]
            if slug not in changed:
                result.unchanged.append(slug)
                continue
            _record(config, existing.get(slug), before.get(slug), actor=actor, via="file", note=str(path))
            (result.updated if slug in existing else result.created).append(slug)
    return result


class StaleVersion(Exception):
    """Someone saved the firm after the version this save started from. ``changes`` is what they
    changed since then ({key path: [old, new]}), to show the one whose save was refused."""

    def __init__(self, tenant: Tenant, expected: int, current: int, changes: dict):
        self.tenant, self.expected, self.current, self.changes = tenant, expected, current, changes
        super().__init__(f"{tenant.slug}: version {expected} expected, {current} saved")


@dataclass
class Saved:
    tenant: Tenant
    version: "TenantVersion | None"  # None: the configuration was already this one; nothing saved
    created: bool = False


def save(config: dict, *, actor: User | None = None, via: str, expected_version: int | None = None,
         create: bool = False, note: str = "", actor_label: str = "") -> Saved:
    """Write one already-validated configuration as a new version: the one door for the browser, the
    API, the wizard, restores and approved change requests (files come in by ``import_files``).

    ``expected_version``: the version the user's edit started from; raises StaleVersion when another
    save came in between. ``create``: the slug must be new. Raises TenantFileError for problems that
    need the other firms (a number another firm holds, a slug taken)."""
    source = Path(config["slug"] or "tenant")
    if problems := _cross_tenant_problems([(source, config)]):
        raise TenantFileError(problems)
    with read_then_write():
        tenant = Tenant.by_slug(config["slug"])
        if tenant is not None and create:
            raise TenantFileError([(str(source), Problem("slug", _("{slug} is already the slug of the firm {name}")
                                                         .format(slug=config["slug"], name=tenant.name)))])
        if tenant is not None and expected_version is not None and tenant.version != expected_version:
            raise stale(tenant, expected_version)
        before = snapshot(tenant) if tenant else None
        if before == config:
            return Saved(tenant, None)
        if tenant:
            TenantNumber.delete().where(TenantNumber.tenant == tenant).execute()
        tenant, version = _record(config, tenant, before, actor=actor, via=via, note=note,
                                  actor_label=actor_label)
        return Saved(tenant, version, created=before is None)


def import_config(config: dict, *, actor: User | None = None, source: str = "") -> Tenant:
    """Write one already-validated configuration as if from a file (tests, the demo)."""
    return save(config, actor=actor, via="file", note=source).tenant


def stale(tenant: Tenant, expected: int) -> StaleVersion:
    theirs = TenantVersion.get_or_none(TenantVersion.tenant == tenant, TenantVersion.number == expected)
    current = snapshot(tenant)
    return StaleVersion(tenant, expected, tenant.version, diff(theirs.config if theirs else {}, current))


AUDIT_ACTIONS = {"file": "tenant.import", "restore": "tenant.restore"}


def _record(config: dict, tenant: Tenant | None, before: dict | None, *, actor: User | None, via: str,
            note: str = "", actor_label: str = "") -> tuple[Tenant, "TenantVersion"]:
    """Apply ``config`` and keep it as the firm's next version, inside the caller's transaction."""
    if tenant is not None:
        if tenant.version == 0:
            _baseline(tenant, before)
        # The conditional bump is the lock: of two saves from the same version, one moves it on,
        # the other updates nothing and is refused (on PostgreSQL it waits for the first to commit).
        if not Tenant.update(version=Tenant.version + 1).where(Tenant.id == tenant.id,
                                                               Tenant.version == tenant.version).execute():
            raise stale(Tenant.get_by_id(tenant.id), tenant.version)
    tenant = apply(config, tenant, before)
    number = tenant.version if before is not None else 1
    if before is None:
        Tenant.update(version=1).where(Tenant.id == tenant.id).execute()
        tenant.version = 1
    changes = diff(before or {}, config)
    version = TenantVersion.create(tenant=tenant, number=number, config=config, changes=changes, saved_by=actor,
                                   saved_by_label=actor.email if actor else actor_label or "cli", via=via,
                                   note=note)
    action = AUDIT_ACTIONS.get(via, "tenant.update" if before is not None else "tenant.create")
    AuditEntry.record(action, actor=actor, tenant=tenant, target=note or via, changes=changes,
                      label=actor_label)
    return tenant, version


def _baseline(tenant: Tenant, config: dict) -> None:
    """A firm saved only before versions were kept: what it is becomes version 1, so nothing is lost.
    The conditional update decides who writes it when two requests find the firm so at once."""
    if Tenant.update(version=1).where(Tenant.id == tenant.id, Tenant.version == 0).execute():
        TenantVersion.create(tenant=tenant, number=1, config=config, via="baseline")
    tenant.version = 1


def restore(tenant: Tenant, number: int, *, actor: User | None, expected_version: int | None = None,
            default_region: str = "JP") -> Saved:
    """Save an old version's configuration again, as a new version. Checked as a file would be: the
    format or the other firms may have moved on since (a number now another firm's)."""
    old = TenantVersion.get_or_none(TenantVersion.tenant == tenant, TenantVersion.number == number)
    if old is None:
        raise LookupError(number)
    config, problems = validate(from_json(old.config), default_region=default_region)
    if problems:
        raise TenantFileError([(f"version {number}", p) for p in problems])
    return save(config, actor=actor, via="restore", expected_version=expected_version,
                note=_("restored version {number}").format(number=number))


def versions(tenant: Tenant):
    """The firm's versions, newest first. A firm saved only before versions were kept shows what it
    is now as version 1."""
    if tenant.version == 0:
        with read_then_write():
            _baseline(tenant, snapshot(tenant))
    return TenantVersion.select().where(TenantVersion.tenant == tenant).order_by(TenantVersion.number.desc())


def apply(config: dict, tenant: Tenant | None, before: dict | None = None) -> Tenant:
    """Make the database match ``config``. Rows that others may refer to (staff, call types, reports)
    keep their ids when their key stays; numbers of an existing tenant must be deleted by the caller.
    ``before``: the firm's configuration as it is (a snapshot): staff, call types and reports that
    stay as they were, in the same place, are not written again (an edit changes one or two)."""
    hours = config["hours"]
    values = dict(
        slug=config["slug"], name=config["name"], name_kana=config["name_kana"], language=config["language"],
        timezone=config["timezone"], region=config["region"], answer_phrase=config["answer_phrase"],
        instructions=config["instructions"],
        hours={d: hours[d] for d in WEEKDAYS} if hours else None,
        holiday_calendar=(hours["closed_on_holidays"] or None) if hours else None,
        after_hours=hours["after_hours"] if hours else "answer",
        after_hours_message=hours["after_hours_message"] if hours else "",
        plan=config["plan"],
        updated_at=utcnow(),
    )
    if tenant is None:
        tenant = Tenant.create(**values)
    else:
        Tenant.update(**values).where(Tenant.id == tenant.id).execute()
        tenant = Tenant.get_by_id(tenant.id)

    TenantNumber.insert_many([{"tenant": tenant, "number": n["number"], "kind": n["kind"], "position": i}
                              for i, n in enumerate(config["numbers"])]).execute()

    before = before or {}
    _sync_by_key(Staff, tenant, config["staff"], before.get("staff"), lambda row, item: None)
    _sync_by_key(CallType, tenant, config["call_types"], before.get("call_types"), _write_fields,
                 skip=("fields", "required", "readback", "extra_fields"))
    _sync_by_key(ReportRule, tenant, config["reports"], before.get("reports"),
                 lambda row, item: _write_recipients(item, report=row), skip=("deliver",))

    NotifyRule.delete().where(NotifyRule.tenant == tenant).execute()
    for i, item in enumerate(config["notify"]):
        rule = NotifyRule.create(tenant=tenant, urgent=item["urgent"], categories=item["categories"], position=i)
        _write_recipients(item, notify=rule)
    return tenant


def _sync_by_key(model, tenant: Tenant, items: list[dict], before: list[dict] | None, write_children,
                 skip: tuple[str, ...] = ()) -> None:
    rows = {row.key: row for row in model.select(model.id, model.key).where(model.tenant == tenant)}
    before = before or []
    for position, item in enumerate(items):
        if position < len(before) and before[position] == item:  # as it was, where it was
            rows.pop(item["key"], None)
            continue
        values = {k: v for k, v in item.items() if k not in skip}
        row = rows.pop(item["key"], None)
        if row is None:
            row = model.create(tenant=tenant, position=position, **values)
        else:
            model.update(position=position, **values).where(model.id == row.id).execute()
        write_children(row, item)
    if rows:
        model.delete().where(model.id.in_([r.id for r in rows.values()])).execute()


def _write_fields(call_type: CallType, item: dict) -> None:
    CallTypeField.delete().where(CallTypeField.call_type == call_type).execute()
    # insert_many takes its columns from the first row, so every row names every column.
    rows = [{"call_type": call_type, "key": key, "standard": True, "label": "", "options": None,
             "type": "phone" if key == "callback_number" else "textarea" if key == "body" else "text",
             "required": key in item["required"], "readback": key in item["readback"]} for key in item["fields"]]
    rows += [{"call_type": call_type, "key": f["key"], "standard": False, "label": f["label"], "type": f["type"],
              "options": f["options"], "required": f["required"], "readback": f["readback"]}
             for f in item["extra_fields"]]
    if rows:
        CallTypeField.insert_many([{**row, "position": i} for i, row in enumerate(rows)]).execute()


def _write_recipients(item: dict, **owner) -> None:
    Recipient.delete().where(*[getattr(Recipient, k) == v for k, v in owner.items()]).execute()
    for i, d in enumerate(item["deliver"]):
        Recipient.create(channel=d["channel"], to=d["to"], to_staff=d["to_staff"], position=i, **owner)


def diff(before: dict, after: dict, path: str = "") -> dict:
    """{key path: [old, new]} for every leaf that differs; lists of tables compared item by item."""
    changes = {}
    if isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before, *after]):
            changes.update(diff(before.get(key), after.get(key), f"{path}.{key}" if path else key))
    elif (isinstance(before, list) and isinstance(after, list) and
          any(isinstance(x, dict) for x in before + after)):
        for i in range(max(len(before), len(after))):
            changes.update(diff(before[i] if i < len(before) else None,
                                after[i] if i < len(after) else None, f"{path}[{i}]"))
    elif before != after:
        changes[path] = [before, after]
    return changes
