"""The web application: its routes, read top to bottom, are the table of contents."""

from __future__ import annotations

import asyncio
import contextlib
import gc

import anyio.to_thread

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.convertors import register_url_convertor
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import db, events, settings as settings_module
from .accounts import views as accounts
from .api import board as api_board, calls as api_calls, stats as api_stats, tenants as api_tenants, v1 as api
from .admin import requests as admin_requests, users as admin_users, views as admin
from .calls import spool as call_spool, webhooks
from .console import views as console
from .delivery import views as deliveries
from .handover import views as handover
from .messages import views as messages
from .portal import (
    block_link, calls as portal_calls, requests as portal_requests, users as portal_users, views as portal,
)
from .presence import views as presence
from .qa import views as qa
from .reports import views as report_previews
from .settings import PROJECT_ROOT, Settings
from .stats import pages as stats
from .supervisor import calls as supervisor_calls, views as supervisor
from .tenants import editor, history as firm_history, views as firms, wizard
from .web import errors
from .web.csrf import CSRFMiddleware
from .web.inputs import IdConvertor
from .web.limits import BodyLimitMiddleware
from .web.security import SecurityHeadersMiddleware

GET, POST = ["GET"], ["POST"]

# Ids in paths only as long as a database integer: a longer one is a 404, not an overflow.
register_url_convertor("id", IdConvertor())

routes = [
    Route("/", accounts.home, methods=GET),
    Route("/login", accounts.login, methods=[*GET, *POST]),
    Route("/logout", accounts.logout, methods=POST),
    Route("/language", accounts.language, methods=POST),
    Route("/account", accounts.account, methods=[*GET, *POST]),

    Route("/console", console.console, methods=GET),
    Route("/console/events", console.events, methods=GET),
    Route("/console/presence", console.presence, methods=[*GET, *POST]),
    Route("/console/calls/{id:id}", console.screen_pop, methods=GET),
    Route("/console/calls/{id:id}/take", console.take, methods=POST),
    Route("/console/calls/{id:id}/end", console.end_call, methods=POST),
    Route("/console/calls/{id:id}/state", console.call_state, methods=GET),
    Route("/console/calls/{id:id}/board", console.firm_board, methods=GET),
    Route("/console/calls/{id:id}/firms", console.firm_choices, methods=GET),
    Route("/console/calls/{id:id}/firm", console.assign_firm, methods=POST),
    Route("/console/calls/{id:id}/transfer", console.transfer, methods=[*GET, *POST]),
    Route("/console/voice-token", console.voice_token, methods=GET),
    Route("/console/feedback", qa.feedback, methods=GET),
    Route("/console/feedback/{id:id}", qa.feedback_detail, methods=GET),
    Route("/console/stats", stats.operators_own, methods=GET),
    Route("/console/stats.csv", stats.operators_own_csv, methods=GET),
    Route("/console/calls/{id:id}/draft", messages.draft, methods=POST),
    Route("/console/calls/{id:id}/message", messages.save, methods=POST),
    Route("/console/calls/{id:id}/noise", messages.noise, methods=POST),
    Route("/console/calls/{id:id}/escalate", messages.escalate_call, methods=POST),
    Route("/messages", messages.message_list, methods=GET),
    Route("/messages/{id:id}", messages.message_detail, methods=GET),
    Route("/messages/{id:id}/correct", messages.correct, methods=POST),
    Route("/messages/{id:id}/handled", messages.handled, methods=POST),
    Route("/messages/{id:id}/escalate", messages.escalate_message, methods=POST),
    Route("/handover", handover.handover, methods=[*GET, *POST]),
    Route("/handover/ack", handover.acknowledge, methods=POST),
    Route("/handover/unread", handover.unread, methods=GET),
    Route("/handover/{id:id}/withdraw", handover.withdraw, methods=POST),
    Route("/qa", qa.queue, methods=GET),
    Route("/qa/settings", qa.settings, methods=POST),
    Route("/qa/sample", qa.sample_now, methods=POST),
    Route("/qa/reviews/{id:id}", qa.review, methods=[*GET, *POST]),
    Route("/supervisor", supervisor.board, methods=GET),
    Route("/supervisor/wallboard", supervisor.wallboard_page, methods=GET),
    Route("/supervisor/events", supervisor.events, methods=GET),
    Route("/supervisor/escalations/{id:id}/resolve", messages.resolve, methods=POST),
    Route("/supervisor/calls", supervisor_calls.call_log, methods=GET),
    Route("/supervisor/stats", stats.supervisors, methods=GET),
    Route("/supervisor/stats.csv", stats.supervisors_csv, methods=GET),
    Route("/portal", portal.portal, methods=GET),
    Route("/portal/users", portal_users.users, methods=[*GET, *POST]),
    Route("/portal/users/{id:id}/remove", portal_users.remove, methods=POST),
    Route("/invite/{token}", portal_users.accept, methods=[*GET, *POST]),
    Route("/password/{token}", accounts.password_link, methods=[*GET, *POST]),
    Route("/block/{token}", block_link.block_number, methods=[*GET, *POST]),
    Route("/portal/events", portal.events, methods=GET),
    Route("/portal/messages.csv", portal.messages_csv, methods=GET),
    Route("/portal/messages/{id:id}", portal.message_page, methods=GET),
    Route("/portal/messages/{id:id}/handled", portal.handled, methods=POST),
    Route("/portal/messages/{id:id}/ack", portal.acknowledge, methods=POST),
    Route("/portal/handled", portal.bulk_handled, methods=POST),
    Route("/portal/staff", presence.staff_board, methods=GET),
    Route("/portal/staff/{id:id}", presence.set_presence, methods=POST),
    Route("/portal/notices", presence.notices, methods=[*GET, *POST]),
    Route("/portal/notices/{id:id}/withdraw", presence.withdraw_notice, methods=POST),
    Route("/portal/calls", portal_calls.call_log, methods=GET),
    Route("/portal/stats", stats.firms_own, methods=GET),
    Route("/portal/stats.csv", stats.firms_own_csv, methods=GET),
    Route("/portal/blocked", portal_calls.blocked, methods=[*GET, *POST]),
    Route("/portal/blocked/{id:id}/unblock", portal_calls.unblock, methods=POST),
    Route("/portal/requests", portal_requests.requests_page, methods=[*GET, *POST]),
    Route("/portal/requests/{id:id}/withdraw", portal_requests.withdraw, methods=POST),

    Route("/firms", firms.directory, methods=GET),
    Route("/firms/new", wizard.new, methods=[*GET, *POST]),  # before /firms/{slug}
    Route("/firms/new/slug", wizard.check_slug, methods=GET),
    Route("/firms/new/number", wizard.check_number, methods=GET),
    Route("/firms/{slug}", firms.detail, methods=GET),
    Route("/firms/{slug}/export.toml", firms.export, methods=GET),
    Route("/firms/{slug}/edit", editor.edit, methods=[*GET, *POST]),
    Route("/firms/{slug}/edit/preview", editor.preview, methods=["POST"]),
    Route("/firms/{slug}/history", firm_history.history, methods=GET),
    Route("/firms/{slug}/history/diff", firm_history.diff, methods=GET),
    Route("/firms/{slug}/history/{n:id}/restore", firm_history.restore, methods=POST),
    Route("/firms/{slug}/test-call", wizard.test_call, methods=POST),
    Route("/firms/{slug}/reports", deliveries.archive, methods=GET),
    Route("/firms/{slug}/reports/{id:id}.{kind}", deliveries.archived, methods=GET),
    Route("/firms/{slug}/reports/{key}/preview", report_previews.page, methods=[*GET, *POST]),
    Route("/firms/{slug}/reports/{key}/preview/email.html", report_previews.email_html, methods=GET),
    Route("/firms/{slug}/reports/{key}/preview/fax.pdf", report_previews.fax_pdf, methods=GET),

    Route("/admin", admin.dashboard, methods=GET),
    Route("/admin/requests", admin_requests.queue, methods=GET),
    Route("/admin/requests/{id:id}", admin_requests.detail, methods=GET),
    Route("/admin/requests/{id:id}/approve", admin_requests.approve, methods=POST),
    Route("/admin/requests/{id:id}/decline", admin_requests.decline, methods=POST),
    Route("/admin/users", admin_users.user_list, methods=GET),
    Route("/admin/users/new", admin_users.add, methods=[*GET, *POST]),
    Route("/admin/users/{id:id}", admin_users.detail, methods=GET),
    Route("/admin/users/{id:id}/access", admin_users.access, methods=POST),
    Route("/admin/users/{id:id}/owner", admin_users.owner, methods=POST),
    Route("/admin/users/{id:id}/disable", admin_users.disable, methods=POST),
    Route("/admin/users/{id:id}/enable", admin_users.enable, methods=POST),
    Route("/admin/users/{id:id}/password-link", admin_users.password_link, methods=POST),
    Route("/admin/audit", admin.audit, methods=GET),
    Route("/admin/deliveries", deliveries.deliveries, methods=GET),
    Route("/admin/deliveries/{id:id}/resend", deliveries.resend, methods=POST),
    Route("/admin/outbox", deliveries.outbox, methods=GET),
    Route("/admin/outbox/{channel}/{name}", deliveries.outbox_file, methods=GET),

    Route("/api/v1/messages", api.list_messages, methods=GET),
    Route("/api/v1/messages", api.create_message, methods=POST),
    Route("/api/v1/messages.csv", api.messages_csv, methods=GET),
    Route("/api/v1/messages/{id:id}", api.get_message, methods=GET),
    Route("/api/v1/messages/{id:id}", api.update_message, methods=["PATCH"]),
    Route("/api/v1/messages/{id:id}/ack", api.acknowledge_message, methods=POST),
    Route("/api/v1/tenants", api_tenants.list_tenants, methods=GET),
    Route("/api/v1/tenants", api_tenants.create_tenant, methods=POST),
    Route("/api/v1/tenants/{slug}", api_tenants.get_tenant, methods=GET),
    Route("/api/v1/tenants/{slug}", api_tenants.replace_tenant, methods=["PUT"]),
    Route("/api/v1/tenants/{slug}/versions", api_tenants.list_versions, methods=GET),
    Route("/api/v1/tenants/{slug}/versions/{n:id}", api_tenants.get_version, methods=GET),
    Route("/api/v1/tenants/{slug}/reports/{key}/preview", api_tenants.preview_report, methods=POST),
    Route("/api/v1/tenants/{slug}/staff", api_board.list_staff, methods=GET),
    Route("/api/v1/tenants/{slug}/staff/{key}", api_board.update_staff, methods=["PATCH"]),
    Route("/api/v1/tenants/{slug}/notices", api_board.list_notices, methods=GET),
    Route("/api/v1/tenants/{slug}/notices", api_board.create_notice, methods=POST),
    Route("/api/v1/tenants/{slug}/notices/{id:id}", api_board.withdraw_notice, methods=["DELETE"]),
    Route("/api/v1/calls", api_calls.list_calls, methods=GET),
    Route("/api/v1/calls/{sid}", api_calls.get_call, methods=GET),
    Route("/api/v1/calls/{sid}/take", api_calls.take_call, methods=POST),
    Route("/api/v1/operators/me/presence", api_calls.set_presence, methods=["PUT"]),
    Route("/api/v1/tenants/{slug}/blocked-numbers", api_calls.list_blocked, methods=GET),
    Route("/api/v1/tenants/{slug}/blocked-numbers", api_calls.block_number, methods=POST),
    Route("/api/v1/tenants/{slug}/blocked-numbers/{number}", api_calls.unblock_number, methods=["DELETE"]),
    Route("/api/v1/stats", api_stats.get_stats, methods=GET),
    Route("/api/v1/openapi.json", api.openapi, methods=GET),

    Route("/twilio/voice", webhooks.webhook(webhooks.voice), methods=POST),
    Route("/twilio/wait", webhooks.webhook(webhooks.wait), methods=POST),
    Route("/twilio/connect", webhooks.webhook(webhooks.connect), methods=POST),
    Route("/twilio/operator-answered", webhooks.webhook(webhooks.operator_answered), methods=POST),
    Route("/twilio/queue-exit", webhooks.webhook(webhooks.queue_exit), methods=POST),
    Route("/twilio/status", webhooks.webhook(webhooks.status), methods=POST),
    Route("/twilio/voicemail", webhooks.webhook(webhooks.voicemail), methods=POST),
    Route("/twilio/transfer", webhooks.webhook(webhooks.transfer), methods=POST),
    Route("/twilio/transfer-whisper", webhooks.webhook(webhooks.transfer_whisper), methods=POST),
    Route("/twilio/transfer-result", webhooks.webhook(webhooks.transfer_result), methods=POST),
    Route("/twilio/sms-status", webhooks.webhook(webhooks.sms_status), methods=POST),

    Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or settings_module.load()
    db.bind(settings.DATABASE_URL)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # Requests' database work runs in these threads; the pool has a connection for each (app/db.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = db.WEB_THREADS
        await app.state.events.start()
        # Calls kept while the database was away (this process's, or a stopped one's) are recorded now.
        replaying = asyncio.create_task(call_spool.keep_replaying(app.state.spool, webhooks.replayer(app)))
        # What start-up built lives as long as the process: keep it out of every garbage collection
        # (each full pass over it paused a request by ~20 ms, bench/messages.py).
        gc.collect()
        gc.freeze()
        yield
        replaying.cancel()
        await asyncio.gather(replaying, return_exceptions=True)
        await app.state.events.stop()
        # Connections in use belong to requests still finishing (or, in tests, to the test itself).
        if hasattr(db.db.obj, "close_idle"):
            db.db.obj.close_idle()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            # Before anything reads a body: an oversized one is refused unread, whoever sent it.
            Middleware(BodyLimitMiddleware),
            Middleware(CSRFMiddleware, secret=settings.SECRET_KEY, secure=settings.https,
                       exempt_prefixes=("/twilio/", "/api/", "/static/")),
        ],
        exception_handlers={HTTPException: errors.http_exception, 500: errors.server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.events = events.make_bus(settings)
    app.state.spool = call_spool.Spool.for_settings(settings)
    return app
