"""The ``dengon`` command. Exit status 0 on success; otherwise non-zero with the reason on stderr."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import peewee

from . import db, i18n, settings as settings_module
from .settings import PROJECT_ROOT, SettingsError


class CommandError(Exception):
    """A reason the command could not do its work, printed without a traceback."""


def _bind(settings) -> None:
    db.bind(settings.DATABASE_URL)


def cmd_migrate(args, settings) -> None:
    _bind(settings)
    applied = db.migrate()
    print("applied: " + ", ".join(applied) if applied else "the database is up to date")


def _require_schema() -> None:
    if pending := db.pending_migrations():
        raise CommandError(f"the database needs migrating first ({', '.join(pending)}): run 'dengon migrate'")


def cmd_tenants_import(args, settings) -> None:
    from .tenants import store
    from .tenants.config import TenantFileError

    _bind(settings)
    _require_schema()
    path = Path(args.path)
    files = store.tenant_files(path)
    if not files:
        raise CommandError(f"{path}: no tenant.toml there (expected a tenant file, a tenant folder, "
                           "or a folder of tenant folders)")
    with db.db.connection_context():
        try:
            result = store.import_files(files, default_region=settings.DEFAULT_REGION)
        except TenantFileError as exc:
            for source, problem in exc.problems:
                print(f"{source}: {problem}", file=sys.stderr)
            raise CommandError(f"nothing imported: {len(exc.problems)} problem(s) in the tenant files")
        except peewee.DatabaseError as exc:
            # Validation passed, so this is a race with another import or a schema mismatch.
            raise CommandError(f"nothing imported: the database refused the change ({exc})".replace("\n", " "))
    for label, slugs in (("created", result.created), ("updated", result.updated), ("unchanged", result.unchanged)):
        if slugs:
            print(f"{label}: {', '.join(slugs)}")


def cmd_tenants_export(args, settings) -> None:
    from .tenants import store

    _bind(settings)
    with db.db.connection_context():
        try:
            sys.stdout.write(store.export(args.slug))
        except LookupError:
            raise CommandError(f"no tenant with the slug {args.slug!r}")


def cmd_users_add(args, settings) -> None:
    from .accounts import service

    _bind(settings)
    _require_schema()
    password = None
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n") or None
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    with db.db.connection_context():
        try:
            user = service.add_user(args.email, args.role, tenant_slug=args.tenant, name=args.name or "",
                                    password=password)
        except service.AccountError as exc:
            raise CommandError(str(exc))
    print(f"created {user.role} {user.email}" + (f" for {args.tenant}" if args.tenant else ""))
    if generated:
        print(f"password: {password}")


def cmd_tokens_create(args, settings) -> None:
    from .accounts import service

    _bind(settings)
    _require_schema()
    with db.db.connection_context():
        try:
            user, token = service.create_token(args.email)
        except service.AccountError as exc:
            raise CommandError(str(exc))
    if not user.is_active:
        print(f"note: {user.email} is disabled; the token works once they are enabled", file=sys.stderr)
    print(f"API token for {user.email} (shown once; keep it secret):")
    print(token)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def cmd_tokens_revoke(args, settings) -> None:
    from .accounts import service

    # One user's tokens or everyone's: both at once would leave it unclear which was meant.
    if args.email is not None and args.all:
        raise CommandError("tokens revoke: give EMAIL or --all, not both")
    if args.email is None and not args.all:
        raise CommandError("tokens revoke: give EMAIL (that user's tokens) or --all (every user's tokens)")
    _bind(settings)
    _require_schema()
    with db.db.connection_context():
        try:
            revoked = service.revoke_tokens(args.email)
        except service.AccountError as exc:
            raise CommandError(str(exc))
    for email, prefixes in revoked.items():
        print(f"revoked {_plural(len(prefixes), 'API token')} of {email}: {', '.join(p + '…' for p in prefixes)}")
    if not revoked:
        print(f"{args.email.strip().lower()} has no API token in use" if args.email else "no API token in use")


def cmd_users_set_active(args, settings) -> None:
    from .accounts import service

    active = args.users_command == "enable"
    _bind(settings)
    _require_schema()
    with db.db.connection_context():
        try:
            user, changed, ended = service.set_active(args.email, active)
        except service.AccountError as exc:
            raise CommandError(str(exc))
    if not changed:
        print(f"{user.email} is already {'enabled' if active else 'disabled'}")
    elif active:
        print(f"enabled {user.email}: they can sign in again; their API tokens work again unless revoked")
    else:
        print(f"disabled {user.email}: {_plural(ended, 'session')} ended; their API tokens are refused "
              "until they are enabled ('dengon tokens revoke' ends them for good)")


def cmd_simulate_call(args, settings) -> None:
    """Post an inbound-call webhook to the running app, signed as the provider would sign it."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from .calls.webhooks import sign

    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32,
              "To": args.to, "From": args.caller or "", "CallStatus": "ringing", "Direction": "inbound",
              "ApiVersion": "2010-04-01"}
    if args.forwarded_from:
        params["ForwardedFrom"] = args.forwarded_from
    request = urllib.request.Request(
        settings.PUBLIC_URL + "/twilio/voice", data=urllib.parse.urlencode(params).encode(), method="POST",
        headers={"X-Twilio-Signature": sign(settings, "/twilio/voice", params),
                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise CommandError(f"{settings.PUBLIC_URL}/twilio/voice answered {exc.code}: {exc.read().decode()[:200]}")
    except OSError as exc:
        raise CommandError(f"cannot reach {settings.PUBLIC_URL} (is 'dengon serve' running?): {exc}")
    print(f"call {params['CallSid']} to {args.to}" + (f" forwarded from {args.forwarded_from}" if args.forwarded_from
                                                          else ""))
    print(body)


def cmd_reports_run(args, settings) -> None:
    """Make and send the reports due on a date; a report already made is not made (or sent) again."""
    import datetime as dt

    from .reports import service as reports
    from .tenants.models import Tenant

    day = None
    if args.date:
        try:
            day = dt.date.fromisoformat(args.date)
        except ValueError:
            raise CommandError(f"--date: expected YYYY-MM-DD, got {args.date!r}")
    _bind(settings)
    with db.db.connection_context():
        tenant = None
        if args.tenant and (tenant := Tenant.by_slug(args.tenant)) is None:
            raise CommandError(f"--tenant: no firm {args.tenant!r}")
        runs, outcome = reports.send_as_made(settings, reports.runs_on(settings, day, tenant))
    for run in runs:
        print(f"{run.tenant.slug}/{run.rule_key} at {run.scheduled_at.astimezone(run.tenant.zone):%Y-%m-%d %H:%M}: "
              f"{run.message_count} messages" + (" (empty: skipped)" if run.skipped else ""))
    print(f"{len(runs)} reports made; deliveries: " + (", ".join(f"{n} {s}" for s, n in outcome.items()) or "none"))
    unsent = sum(n for s, n in outcome.items() if s != "sent")
    if unsent:
        raise CommandError(f"{unsent} deliveries not sent (the worker retries those not failed; see /admin/deliveries)")


def _listen_address(settings, host: str | None, port: int | None) -> tuple[str, int]:
    url = urlsplit(settings.PUBLIC_URL)
    return host or "127.0.0.1", port or url.port or (443 if url.scheme == "https" else 80)


def cmd_serve(args, settings) -> None:
    import uvicorn

    host, port = _listen_address(settings, args.host, args.port)
    # Event streams never end by themselves: give them a moment, then close them on shutdown.
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=args.workers,
                proxy_headers=True, log_level="info", timeout_graceful_shutdown=3)


def cmd_worker(args, settings) -> None:
    from . import worker

    _bind(settings)
    worker.run(settings)


def cmd_demo(args, settings) -> None:
    from . import demo

    demo.run(settings, host=args.host, port=args.port)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dengon", description="Dengon (伝言): telephone answering service platform")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="migrate, load the demo firms and users, start web and worker")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run the web application")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: the port of PUBLIC_URL)")
    serve.add_argument("--workers", type=int, default=1, help="web processes (default 1)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the background worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)

    tenants = sub.add_parser("tenants", help="import or export firms as tenant files").add_subparsers(
        dest="tenants_command", required=True, metavar="ACTION")
    imp = tenants.add_parser("import", help="create or update firms from tenant files (all or nothing)")
    imp.add_argument("path", help="a tenant.toml, a tenant folder, or a folder of tenant folders")
    imp.set_defaults(func=cmd_tenants_import)
    exp = tenants.add_parser("export", help="print a firm's configuration as TOML")
    exp.add_argument("slug")
    exp.set_defaults(func=cmd_tenants_export)

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="create a user; password from stdin, or generated and printed")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=["admin", "supervisor", "operator", "client"])
    add.add_argument("--tenant", help="the firm of a client user (its slug)")
    add.add_argument("--name", help="display name")
    add.set_defaults(func=cmd_users_add)
    disable = users.add_parser("disable", help="stop a user signing in; their sessions and tokens stop at once")
    disable.add_argument("email")
    disable.set_defaults(func=cmd_users_set_active)
    enable = users.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("email")
    enable.set_defaults(func=cmd_users_set_active)

    call = sub.add_parser("simulate-call", help="send a signed inbound-call webhook to the running app")
    call.add_argument("--to", required=True, help="the number dialled (a firm's dedicated number, or the service's)")
    call.add_argument("--from", dest="caller", help="the caller's number (default: withheld)")
    call.add_argument("--forwarded-from", help="the firm's own line that forwarded the call")
    call.set_defaults(func=cmd_simulate_call)

    reports = sub.add_parser("reports", help="scheduled reports").add_subparsers(
        dest="reports_command", required=True, metavar="ACTION")
    run = reports.add_parser("run", help="send the reports due on a date that are not sent yet")
    run.add_argument("--date", help="a local date YYYY-MM-DD (default: each firm's today)")
    run.add_argument("--tenant", help="only this firm (its slug)")
    run.set_defaults(func=cmd_reports_run)

    tokens = sub.add_parser("tokens", help="manage API tokens").add_subparsers(
        dest="tokens_command", required=True, metavar="ACTION")
    create = tokens.add_parser("create", help="create an API token for a user; the token is the last line")
    create.add_argument("email")
    create.set_defaults(func=cmd_tokens_create)
    revoke = tokens.add_parser("revoke", help="revoke a user's API tokens, or with --all every user's")
    revoke.add_argument("email", nargs="?", help="the user whose tokens are revoked")
    revoke.add_argument("--all", action="store_true", help="revoke every user's tokens (give no EMAIL)")
    revoke.set_defaults(func=cmd_tokens_revoke)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    i18n.set_locale("en")  # command-line messages are in English
    try:
        settings = settings_module.load()
        args.func(args, settings)
    except SettingsError as exc:
        print(f"dengon: bad setting: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"dengon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
