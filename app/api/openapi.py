"""The OpenAPI 3.1 description of JSON API v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from ..calls.log import KINDS
from ..calls.models import BREAK_REASONS
from ..messages.forms import NOISE_CATEGORIES
from ..presence.models import MAX_TEXT
from ..presence.service import MAX_NOTE
from ..tenants.models import CATEGORIES, PRESENCES
from ..tenants.schema import json_schema


def _errors(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}


def _one(description: str, status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/MessageDetail"}}}}, **COMMON}


# Every operation may answer these: no token, or a failure on the service's side.
COMMON = {"401": _errors("No valid token."), "500": _errors("A failure on the service's side (errors.server).")}
NOT_FOUND = {"404": _errors("No such message, or another firm's; also an id too large to be any message's.")}
TOO_LARGE = {"413": _errors("The body is larger than the API accepts.")}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


SEARCH = _query("q", "Only messages in which this appears: any field (names, company, body, extra fields), "
                     "or a phone number in any format or a piece of one (\"5678\", \"03-1234\").",
                {"type": "string", "maxLength": 100})


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


CALL_STATUSES = ["waiting", "taken", "connected", "ended", "abandoned", "voicemail", "announced", "blocked"]
NO_FIRM = {"404": _errors("No such firm, or another firm's.")}
STAFF_ONLY = {"403": _errors("A client token: only the service's staff (operator, supervisor, admin) do this.")}
BAD_TEXT = "text holds a NUL character or is not UTF-8 (each is named)"


def _call_paths(time: dict) -> dict:
    """Calls (call log and CTI), an operator's presence, a firm's blocked numbers."""
    sid = {"name": "sid", "in": "path", "required": True, "description": "The provider's CallSid.",
           "schema": {"type": "string"}}
    slug = {"name": "slug", "in": "path", "required": True, "description": "The firm's slug.",
            "schema": {"type": "string"}}
    return {
        "/api/v1/calls": {"get": {
            "summary": "Calls, newest first (the call log)",
            "description": "Client tokens see their own firm's calls; staff tokens every firm's, and calls to "
                           "numbers no firm has (tenant null).",
            "parameters": [
                _query("tenant", "A firm's slug (404 when there is no such firm, or not yours).", {"type": "string"}),
                _query("status", "Only calls in this state.", {"type": "string", "enum": CALL_STATUSES}),
                _query("since", "Arrived at or after (ISO 8601 with offset).", time),
                _query("until", "Arrived before (ISO 8601 with offset).", time),
                _query("cursor", "next_cursor of the page before.", {"type": "string"}),
                _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
            ],
            "responses": {
                "200": _json("A page", {"type": "object", "required": ["calls", "next_cursor"], "properties": {
                    "calls": {"type": "array", "items": _ref("Call")}, "next_cursor": {"type": ["string", "null"]}}}),
                **COMMON, **NO_FIRM,
                "422": _errors(f"A parameter is invalid (an empty time too), or {BAD_TEXT}."),
            },
        }},
        "/api/v1/calls/{sid}": {
            "parameters": [sid],
            "get": {"summary": "One call; staff tokens also get the operator's screen",
                    "responses": {"200": _json("The call.", _ref("CallDetail")), **COMMON,
                                  "404": _errors("No such call, or another firm's (a client token)."),
                                  "422": _errors(f"The sid: {BAD_TEXT}.")}},
        },
        "/api/v1/calls/{sid}/take": {
            "parameters": [sid],
            "post": {
                "summary": "Take a waiting call, as the console's take (operator, supervisor, admin)",
                "description": "Claims the call for the token's user: of two at once exactly one wins. Every "
                               "console hears of it; with a provider the caller is put through to the user's "
                               "browser phone. No body. The console's rules hold: a user on break (or signed "
                               "out) takes no calls, and a waiting call is offered first to the longest-idle "
                               "operator signed in to the console: for OFFER_SECONDS (default 5) after it was "
                               "offered, only they may take it.",
                "responses": {
                    "200": _json("Taken: the call, with its screen.", _ref("CallDetail")), **COMMON, **STAFF_ONLY,
                    **TOO_LARGE,
                    "404": _errors("No such call."),
                    "409": _errors("errors.call: someone else has it, it is no longer waiting, or it is offered "
                                   "to another operator for N more seconds (the message says how many); "
                                   "errors.presence: the user is on a break or signed out."),
                    "422": _errors(f"The sid: {BAD_TEXT}."),
                    "502": _errors("The provider could not put the caller through (errors.provider); the call is "
                                   "waiting again."),
                },
            },
        },
        "/api/v1/operators/me/presence": {"put": {
            "summary": "The token user's availability, as on the console (operator, supervisor, admin)",
            "description": "A break asked for during a call or its after-call work begins when that work ends "
                           "(the call's message or noise record saved): until then the state stays on_call or "
                           "after_call_work and break_after_call names the reason. available withdraws it.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["state"], "properties": {
                    "state": {"type": "string", "enum": ["available", "break"]},
                    "reason": {"type": ["string", "null"], "enum": [*BREAK_REASONS, None],
                               "description": "Why on a break (default break); ignored when available."}}}}}},
            "responses": {"200": _json("The user's state now.", _ref("Presence")), **COMMON, **STAFF_ONLY, **TOO_LARGE,
                          "409": _errors("errors.state: becoming available while handover notes are unread (they "
                                         "are acknowledged on the console, as when starting there)."),
                          "422": _errors(f"Not a JSON object, an unknown state or reason, or {BAD_TEXT}.")},
        }},
        "/api/v1/tenants/{slug}/blocked-numbers": {
            "parameters": [slug],
            "get": {"summary": "The numbers the firm blocks, newest first",
                    "responses": {"200": _json("The list.", {"type": "object", "required": ["blocked_numbers"],
                                                             "properties": {"blocked_numbers": {
                                                                 "type": "array", "items": _ref("BlockedNumber")}}}),
                                  **COMMON, **NO_FIRM, "422": _errors(f"The slug: {BAD_TEXT}.")}},
            "post": {
                "summary": "Block a caller: their next calls to the firm are rejected and recorded as blocked",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["number"], "properties": {
                        "number": {"type": "string", "description": "Any format, read in the firm's region "
                                                                    "(090-1234-5678, +81 90 1234 5678)."},
                        "note": {"type": ["string", "null"], "maxLength": 200}}}}}},
                "responses": {
                    "201": _json("Blocked.", _ref("BlockedNumber")),
                    "200": _json("It was blocked already (a new note replaces the old one).", _ref("BlockedNumber")),
                    **COMMON, **NO_FIRM, **TOO_LARGE,
                    "422": _errors(f"Not a JSON object, no number, not a phone number, a note too long, or {BAD_TEXT}."),
                },
            },
        },
        "/api/v1/tenants/{slug}/blocked-numbers/{number}": {
            "parameters": [slug, {"name": "number", "in": "path", "required": True,
                                  "description": "The blocked number in E.164 (+819012345678).",
                                  "schema": {"type": "string"}}],
            "delete": {"summary": "Unblock a number",
                       "responses": {"204": {"description": "Unblocked: the caller's next call goes through."},
                                     **COMMON, "404": _errors("No such firm, or not yours; or the number is not "
                                                              "blocked."),
                                     "422": _errors(f"The slug or number: {BAD_TEXT}.")}},
        },
    }


def _call_schemas(time: dict) -> dict:
    maybe_time = {**time, "type": ["string", "null"]}
    seconds = {"type": ["integer", "null"]}
    call = {
        "type": "object",
        "required": ["sid", "tenant", "status", "caller", "forwarded_from", "after_hours", "arrived_at", "taken_at",
                     "taken_by", "ended_at", "wait_s", "talk_s", "acw_s", "message_id"],
        "properties": {
            "sid": {"type": "string"},
            "tenant": {"type": ["string", "null"], "description": "The firm's slug; null: a number no firm has."},
            "status": {"type": "string", "enum": CALL_STATUSES,
                       "description": "waiting (queued for an operator), taken (claimed; the operator's phone not "
                                      "yet connected), connected (talking), ended, abandoned (hung up while "
                                      "waiting), voicemail / announced (after hours), blocked (rejected)."},
            "kind": {"type": "string", "enum": list(KINDS),
                     "description": "As the portal's call log shows it: noise is an answered call whose messages "
                                    "are all of the noise categories (" + ", ".join(NOISE_CATEGORIES) + ")."},
            "caller": {"type": ["string", "null"], "description": "E.164; null when withheld."},
            "to": {"type": ["string", "null"], "description": "The number dialled."},
            "forwarded_from": {"type": ["string", "null"]},
            "after_hours": {"type": "boolean"},
            "test": {"type": "boolean", "description": "An account manager's test call to the firm (taken by them "
                                                       "at once, never offered to operators)."},
            "arrived_at": time, "taken_at": maybe_time, "taken_by": {"type": ["string", "null"]},
            "answered_at": maybe_time, "ended_at": maybe_time,
            "wait_s": seconds, "talk_s": seconds,
            "acw_s": {**seconds, "description": "After-call work: the call's end → its message saved."},
            "message_id": {"type": ["integer", "null"], "description": "The (first) message taken on this call."},
            "message_ids": {"type": "array", "items": {"type": "integer"}},
            "transfers": {"type": "array", "description": "取次: each attempt to put the caller through to a staff "
                                                          "member's mobile, first first.",
                          "items": {"type": "object", "properties": {
                              "staff": {"type": ["string", "null"], "description": "The staff key; null: since removed."},
                              "staff_name": {"type": "string"},
                              "outcome": {"type": "string", "enum": ["ringing", "answered", "unanswered"]},
                              "requested_at": time, "ended_at": maybe_time}}},
        },
    }
    screen = {
        "type": "object",
        "required": ["name", "name_kana", "answer_phrase", "instructions_html", "notices", "staff", "history"],
        "properties": {
            "name": {"type": ["string", "null"]}, "name_kana": {"type": ["string", "null"]},
            "answer_phrase": {"type": ["string", "null"]}, "instructions_html": {"type": "string"},
            "notices": {"type": "array", "items": {"type": "object", "properties": {
                "text": {"type": "string"}, "staff": {"type": ["string", "null"]},
                "starts_at": maybe_time, "ends_at": maybe_time}}},
            "staff": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"type": "string"}, "name": {"type": "string"}, "name_kana": {"type": "string"},
                "title": {"type": "string"}, "presence": {"type": ["string", "null"]},
                "note": {"type": "string"}, "until": maybe_time}}},
            "history": {"type": "object", "description": "This caller's earlier calls and messages at this firm.",
                        "properties": {
                            "calls": {"type": "array", "items": {"type": "object"}},
                            "messages": {"type": "array", "items": {"type": "object"}}}},
        },
    }
    return {
        "Call": call,
        "CallDetail": {"allOf": [_ref("Call"), {"type": "object", "properties": {
            "screen": {**screen, "description": "Staff tokens only: what the operator's screen pop shows."}}}]},
        "Presence": {"type": "object", "required": ["state", "since"], "properties": {
            "state": {"type": "string", "enum": ["available", "break", "on_call", "after_call_work"],
                      "description": "on_call while a call the user took goes on; after_call_work once it ended "
                                     "and its message is not saved yet."},
            "since": maybe_time, "reason": {"type": ["string", "null"]},
            "break_after_call": {"type": ["string", "null"], "enum": [*BREAK_REASONS, None],
                                 "description": "The break asked for during the call, begun when its work ends."}}},
        "BlockedNumber": {"type": "object", "required": ["number", "note", "created_by", "created_at"], "properties": {
            "number": {"type": "string", "description": "E.164."}, "note": {"type": "string"},
            "created_by": {"type": ["string", "null"]}, "created_at": time}},
    }


def _firm_paths(time: dict) -> dict:
    """A firm's self-service: its in/out board and its notices to operators."""
    slug = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The firm's slug; a client token's own firm only."}
    no_firm = {"404": _errors("No such firm, or another firm's (slug); no such staff member (key) or notice (id).")}
    bad_time = "ISO 8601 with its offset."
    staff = {"type": "object", "required": ["key", "name", "presence", "note", "until"], "properties": {
        "key": {"type": "string"}, "name": {"type": "string"}, "name_kana": {"type": "string"},
        "title": {"type": "string"},
        "presence": {"type": "string", "enum": list(PRESENCES),
                     "description": "As in force now: a state whose until has passed reads in."},
        "note": {"type": "string"}, "until": {**time, "type": ["string", "null"],
                                              "description": "When the state turns back to in by itself."},
        "changed_at": {**time, "type": ["string", "null"], "description": "When the firm last set it."}}}
    notice = {"type": "object", "required": ["id", "text", "staff", "starts_at", "ends_at"], "properties": {
        "id": {"type": "integer"}, "text": {"type": "string"},
        "staff": {"type": ["string", "null"], "description": "The staff member's key it is about, if any."},
        "starts_at": time, "ends_at": {**time, "type": ["string", "null"], "description": "null: until withdrawn."},
        "in_force": {"type": "boolean", "description": "Shown to operators now (false: upcoming)."},
        "created_at": time}}
    return {
        "/api/v1/tenants/{slug}/staff": {
            "parameters": [slug],
            "get": {"summary": "The firm's staff with their presence (the in/out board)",
                    "responses": {"200": {"description": "The board, in the tenant file's order.", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "staff": {"type": "array", "items": staff}}}}}}, **COMMON, **no_firm}},
        },
        "/api/v1/tenants/{slug}/staff/{key}": {
            "parameters": [slug, {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                                  "description": "The staff member's key in the tenant file."}],
            "patch": {
                "summary": "Set a staff member in, out, away or off",
                "description": "Replaces the state, note and until; operators' open screen pops show it at once. "
                               "The state turns back to in by itself at until.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["presence"], "properties": {
                        "presence": {"type": "string", "enum": list(PRESENCES)},
                        "note": {"type": ["string", "null"], "maxLength": MAX_NOTE},
                        "until": {**time, "type": ["string", "null"],
                                  "description": f"{bad_time} In the future; not with in."}}}}}},
                "responses": {"200": {"description": "The staff member as the board shows them now.",
                                      "content": {"application/json": {"schema": staff}}},
                              **COMMON, **no_firm, **TOO_LARGE,
                              "422": _errors("Not a JSON object; presence not one of the four, a note too long, "
                                             "until not a future time with its offset (or given with in); each "
                                             "is named.")},
            },
        },
        "/api/v1/tenants/{slug}/notices": {
            "parameters": [slug],
            "get": {"summary": "Notices in force and upcoming (not withdrawn, not ended)",
                    "responses": {"200": {"description": "Oldest start first.", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"notices": {"type": "array", "items": notice}}}}}},
                        **COMMON, **no_firm}},
            "post": {
                "summary": "Post a notice operators see on this firm's calls while it is in force",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["text"], "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                        "staff": {"type": ["string", "null"], "description": "A staff member's key."},
                        "starts_at": {**time, "type": ["string", "null"], "description": f"{bad_time} Default: now."},
                        "ends_at": {**time, "type": ["string", "null"],
                                    "description": f"{bad_time} After starts_at and now; default: until withdrawn."}}}}}},
                "responses": {"201": {"description": "Posted.", "content": {"application/json": {"schema": notice}}},
                              **COMMON, **no_firm, **TOO_LARGE,
                              "422": _errors("Not a JSON object; text empty or too long, staff not a key of this "
                                             "firm, a time not ISO 8601 with its offset, ends_at not after "
                                             "starts_at or already past; each is named.")},
            },
        },
        "/api/v1/tenants/{slug}/notices/{id}": {
            "parameters": [slug, {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "delete": {"summary": "Withdraw a notice (again: no change)",
                       "responses": {"204": {"description": "Withdrawn."}, **COMMON, **no_firm}},
        },
    }


def _config_paths(time: dict) -> dict:
    """Firm configuration: the tenant file as JSON, its versions."""
    slug = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The firm's slug; a client token's own firm only."}
    config = _ref("TenantConfig")
    admin_only = {"403": _errors("Only an admin token changes a firm or reads its versions.")}
    invalid = {"422": _errors("Checked as a tenant file is: every problem keyed by the file's key path "
                              "(\"hours.wed\", \"numbers[1].number\", \"reports[0].deliver[1].to[0]\").")}
    version = {"type": "object", "required": ["version", "saved_at", "saved_by", "via", "changes"], "properties": {
        "version": {"type": "integer"}, "saved_at": time,
        "saved_by": {"type": ["string", "null"], "description": "Who saved it (an e-mail, or cli)."},
        "via": {"type": "string", "enum": ["file", "browser", "api", "restore", "wizard", "request", "baseline"]},
        "note": {"type": "string"},
        "changes": {"type": "array", "items": {"type": "string"}, "description": "Key paths that changed."}}}
    return {
        "/api/v1/tenants": {
            "get": {"summary": "Every firm", "responses": {
                "200": _json("Every firm, by reading.", {"type": "object", "properties": {"tenants": {
                    "type": "array", "items": {"type": "object", "required": ["slug", "name", "version"],
                                               "properties": {"slug": {"type": "string"}, "name": {"type": "string"},
                                                              "version": {"type": "integer"}}}}}}),
                **COMMON, **STAFF_ONLY}},
            "post": {"summary": "Create a firm from its configuration",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": config}}},
                     "responses": {"201": _json("The firm as saved, version 1.", config), **COMMON, **admin_only,
                                   **TOO_LARGE, **invalid}},
        },
        "/api/v1/tenants/{slug}": {
            "parameters": [slug],
            "get": {"summary": "The firm's configuration: exactly the tenant file's keys, plus version",
                    "responses": {"200": _json("The configuration (ETag: its version).", config), **COMMON,
                                  **NO_FIRM}},
            "put": {"summary": "Replace the firm's configuration (a new version)",
                    "parameters": [{"name": "If-Match", "in": "header", "required": False,
                                    "schema": {"type": "string"},
                                    "description": "The version the change was made from: 412 if another "
                                                   "was saved since."}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": config}}},
                    "responses": {"200": _json("The configuration as saved, with its new version.", config),
                                  **COMMON, **NO_FIRM, **admin_only, **TOO_LARGE, **invalid,
                                  "412": _errors("Another version was saved since the one If-Match names.")}},
        },
        "/api/v1/tenants/{slug}/versions": {
            "parameters": [slug],
            "get": {"summary": "Every saved version of the firm, newest first",
                    "responses": {"200": _json("The versions.", {"type": "object", "properties": {
                        "versions": {"type": "array", "items": version}}}), **COMMON, **NO_FIRM, **admin_only}},
        },
        "/api/v1/tenants/{slug}/reports/{key}/preview": {
            "parameters": [slug, {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                                  "description": "The report's key in the tenant file."}],
            "post": {
                "summary": "The report a run would make now, without sending or recording anything",
                "description": "The period runs from the report's scheduled time before at up to at; a time "
                               "that is not one of its scheduled times previews the report as if made then "
                               "(the current period so far, say). Nothing is sent, no run or delivery is "
                               "recorded: the real report of that time is unchanged.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"at": {
                        **time, "type": ["string", "null"],
                        "description": "ISO 8601 with its offset, 2000 to 2099. Default: the report's next "
                                       "scheduled time."}}}}}},
                "responses": {
                    "200": _json("The report of that time.", {"type": "object", "required": [
                        "period", "messages", "email", "sms", "skipped"], "properties": {
                        "period": {"type": "object", "required": ["since", "until"],
                                   "properties": {"since": time, "until": time},
                                   "description": "Messages taken after since, up to until (the firm's zone)."},
                        "messages": {"type": "array", "items": {"type": "integer"},
                                     "description": "The ids of the messages it carries, in its order "
                                                    "(urgent first)."},
                        "email": {"type": ["object", "null"], "required": ["subject", "text", "html"],
                                  "properties": {"subject": {"type": "string"}, "text": {"type": "string"},
                                                 "html": {"type": "string"}},
                                  "description": "null when skipped."},
                        "sms": {"type": ["string", "null"],
                                "description": "The SMS its SMS recipients get; null when it has none, or skipped."},
                        "skipped": {"type": "boolean",
                                    "description": "No messages, and the report sends nothing for an empty period."}}}),
                    **COMMON, **TOO_LARGE,
                    "403": _errors("Only an admin's or a supervisor's token previews reports."),
                    "404": _errors("No such firm, or another firm's (slug); no such report (key)."),
                    "422": _errors("Not a JSON object; at not an ISO 8601 time with its offset (at); or the "
                                   "report has no scheduled time ahead and at is not given.")},
            },
        },
        "/api/v1/tenants/{slug}/versions/{n}": {
            "parameters": [slug, {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"},
                                  "description": "The version's number."}],
            "get": {"summary": "The configuration as it was at version n",
                    "responses": {"200": _json("The configuration, with version n.", config), **COMMON,
                                  **admin_only, "404": _errors("No such firm, another firm's, or no such version.")}},
        },
    }


def document(server: str) -> dict:
    time = {"type": "string", "format": "date-time"}
    message = {
        "type": "object",
        "required": ["id", "tenant", "call_type", "category", "urgent", "fields", "readback", "taken_at",
                     "taken_by", "handled", "acknowledged_at", "acknowledged_by", "call_sid"],
        "properties": {
            "id": {"type": "integer"},
            "tenant": {"type": "string", "description": "The firm's slug."},
            "call_type": {"type": "string"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "urgent": {"type": "boolean"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Field key → value; phone numbers in E.164."},
            "readback": {"type": "array", "items": {"type": "string"},
                         "description": "The fields read back to the caller and confirmed."},
            "taken_at": {**time, "description": "ISO 8601 in the firm's time zone, with its offset."},
            "taken_by": {"type": ["string", "null"]},
            "handled": {"type": "boolean"}, "handled_at": {**time, "type": ["string", "null"]},
            "handled_note": {"type": "string"},
            "acknowledged_at": {**time, "type": ["string", "null"],
                                "description": "When the firm first acknowledged it (or marked it handled); "
                                               "null: not yet."},
            "acknowledged_by": {"type": ["string", "null"], "description": "Who acknowledged it first."},
            "call_sid": {"type": ["string", "null"]},
            "source": {"type": "string", "enum": ["operator", "api", "voicemail"]},
            "version": {"type": "integer", "description": "1, plus one per correction."},
            "for_staff_name": {"type": ["string", "null"],
                               "description": "The addressee's name: the staff member `fields.for_staff` keys, "
                                              "or the name typed for someone else; null without one."},
            "recording_url": {"type": "string"}, "recording_seconds": {"type": ["integer", "null"]},
        },
    }
    detail = {"allOf": [{"$ref": "#/components/schemas/Message"}, {"type": "object", "properties": {
        "readback_details": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"by": {"type": "string"}, "at": time}}},
        "after_call_seconds": {"type": ["integer", "null"]},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "version": {"type": "integer"}, "edited_at": time, "edited_by": {"type": ["string", "null"]},
            "changes": {"type": "object", "description": "What changed: key → [before, after]."},
            "note": {"type": "string"}}}},
    }}]}
    new_message = {
        "type": "object",
        "properties": {
            # null is the same as left out for these four.
            "tenant": {"type": ["string", "null"], "description": "The firm's slug; may be left out when call_sid "
                                                                  "names a call of a known firm."},
            "call_sid": {"type": ["string", "null"]},
            "call_type": {"type": ["string", "null"], "description": "Default: the firm's first call type."},
            "category": {"type": ["string", "null"], "enum": [*CATEGORIES, None],
                         "description": "Default: the call type's. Noise calls (" + ", ".join(NOISE_CATEGORIES)
                                        + ") need no field and no read-back."},
            "urgent": {"type": ["boolean", "null"],
                       "description": "Default (left out or null): the call type's preset, false unless the "
                                      "firm's file says urgent = true (never for noise calls)."},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Field key → value. The call type says which are required (none for noise)."},
            "readback": {"type": "array", "items": {"type": "string"},
                         "description": "The read-back fields confirmed with the caller: every filled one."},
        },
    }
    # The list's filters: the same for the JSON pages and the CSV.
    filters = [
        _query("tenant", "A firm's slug (404 when there is no such firm, or not yours).", {"type": "string"}),
        _query("since", "Taken at or after (ISO 8601 with offset).", time),
        _query("until", "Taken before (ISO 8601 with offset).", time),
        _query("category", "Only this category.", {"type": "string", "enum": list(CATEGORIES)}),
        _query("handled", "Only handled (true) or open (false) ones.", {"type": "boolean"}),
        SEARCH,
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dengon API", "version": "1"},
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/messages": {
                "get": {
                    "summary": "Messages, newest first",
                    "description": "Client tokens see their own firm's messages; staff tokens every firm's.",
                    "parameters": [
                        *filters,
                        _query("cursor", "next_cursor of the page before.", {"type": "string"}),
                        _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                    ],
                    "responses": {
                        "200": {"description": "A page", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {
                                "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                                "next_cursor": {"type": ["string", "null"]}}}}}},
                        **COMMON, "404": _errors("No such firm (tenant), or another firm's."),
                        "422": _errors("A parameter is invalid (an empty time too), or text holds a NUL "
                                       "character or is not UTF-8; each is named."),
                    },
                },
                "post": {
                    "summary": "Record a message (staff tokens)",
                    "parameters": [{
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "description": "Any unique value (a UUID, say). The same key and body within 24 hours "
                                       "return the first result (only created messages are remembered); the same "
                                       "key with a different body is 422.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                   "pattern": "^[!-~]([ -~]*[!-~])?$"}}],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewMessage"}}}},
                    "responses": {**_one("Recorded.", "201"), **TOO_LARGE,
                                  "403": _errors("A client token."),
                                  "422": _errors("Not a JSON object; a required field is missing, a value is "
                                                 "invalid or a read-back field is not confirmed; text holds a NUL "
                                                 "character or an unpaired surrogate. Each is named (fields.body).")},
                },
            },
            "/api/v1/messages.csv": {
                "get": {
                    "summary": "The same messages as CSV, every page",
                    "description": "What GET /api/v1/messages lists for the same filters, all pages at once, as CSV "
                                   "for spreadsheet programs: UTF-8 with a byte-order mark, CRLF line ends, a "
                                   "column per field labelled in the token user's language (or Accept-Language), "
                                   "read-back marks, category, urgency, handled. A cell that would start a "
                                   "formula begins with an apostrophe. Staff tokens without tenant get a firm column.",
                    "parameters": [
                        *filters,
                    ],
                    "responses": {
                        "200": {"description": "The CSV file (an attachment).",
                                "content": {"text/csv; charset=utf-8": {"schema": {"type": "string"}}}},
                        **COMMON, "404": _errors("No such firm (tenant), or another firm's."),
                        "422": _errors("A parameter is invalid (an empty time too), or text holds a NUL "
                                       "character or is not UTF-8; each is named."),
                    },
                },
            },
            "/api/v1/messages/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {"summary": "One message, with its read-back marks and history",
                        "responses": {**_one("The message."), **NOT_FOUND}},
                "patch": {
                    "summary": "Mark handled or not, with a note",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["handled"], "properties": {
                            "handled": {"type": "boolean"},
                            "note": {"type": ["string", "null"], "maxLength": 2000,
                                     "description": "Replaces the note; null or left out keeps it, \"\" clears it."}}}}}},
                    "responses": {**_one("The message."), **NOT_FOUND, **TOO_LARGE,
                                  "422": _errors("Not a JSON object, handled not a boolean, or the note too long "
                                                 "or holding a NUL character; each is named.")},
                },
            },
            "/api/v1/messages/{id}/ack": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "post": {
                    "summary": "Acknowledge a message (an urgent one's escalation stops)",
                    "description": "The firm (a client token of its firm) or staff say the message has been seen: "
                                   "acknowledged_at and acknowledged_by are set. Idempotent: acknowledging again, "
                                   "or marking it handled (which also acknowledges), keeps the first "
                                   "acknowledgement. No body.",
                    "responses": {**_one("The message, acknowledged."), **NOT_FOUND, **TOO_LARGE,
                                  "422": _errors(f"The address: {BAD_TEXT}.")},
                },
            },
            **_firm_paths(time),
            **_call_paths(time),
            **_config_paths(time),
            **_stats_paths(time),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `dengon tokens create`."}},
            "schemas": {
                "Message": message, "MessageDetail": detail, "NewMessage": new_message,
                **_call_schemas(time),
                **_stats_schemas(),
                "TenantConfig": _tenant_config(),
                "Errors": {"type": "object", "required": ["errors"], "properties": {"errors": {
                    "type": "object", "additionalProperties": {"type": "string"},
                    "description": "Field → what is wrong with it."}}},
            },
        },
    }


def _tenant_config() -> dict:
    """The tenant file as JSON, from its one declaration (tenants/schema.py), plus version."""
    schema = json_schema()
    schema["description"] = ("The tenant file's keys (docs/tenant-toml.md), plus version (ignored when sent). "
                             "A null means the key is left out.")
    schema["properties"]["version"] = {"type": "integer"}
    return schema


def _stats_paths(time: dict) -> dict:
    """The figures (stats/figures.py)."""
    return {"/api/v1/stats": {"get": {
        "summary": "Figures: calls offered, answered, abandoned, service level, handling times, messages",
        "description": "Supervisors and account managers: every firm's (calls to unknown numbers included) or one "
                       "firm's; a client token: its own firm's. Calls count by arrival time, messages by when "
                       "they were taken; test calls never count. With an interval, also per interval, aligned in "
                       "the firm's zone (Japan's for all firms), zero-call intervals included, over whole "
                       "intervals; a day is a local day, and for all firms each firm's own local day.",
        "parameters": [
            _query("since", "From (ISO 8601 with offset); default the start of today.", time),
            _query("until", "Until, not included (ISO 8601 with offset); default the end of today.", time),
            _query("tenant", "A firm's slug (404 when there is no such firm, or not yours).", {"type": "string"}),
            _query("operator", "Staff tokens: only the calls and messages this operator took (user id or e-mail).",
                   {"type": "string"}),
            _query("interval", "Also per interval.", {"type": "string", "enum": ["15m", "30m", "1h", "1d"]}),
        ],
        "responses": {
            "200": _json("The figures", {"type": "object", "required": ["totals", "intervals"], "properties": {
                "tenant": {"type": ["string", "null"]},
                "since": {**time, "description": "The start of the period counted: with an interval, the start "
                                                 "of the interval since falls in."},
                "until": {**time, "description": "The end of the period counted (not included): with an "
                                                 "interval, the end of the interval until reaches into."},
                "totals": _ref("Figures"),
                "intervals": {"type": "array", "items": {"allOf": [_ref("Figures"), {
                    "type": "object", "required": ["start"], "properties": {"start": time}}]}}}}),
            **COMMON, **NO_FIRM,
            "403": _errors("An operator's token: figures are for supervisors, account managers and firms."),
            "422": _errors(f"A parameter is invalid (each is named), or {BAD_TEXT}."),
        },
    }}}


def _stats_schemas() -> dict:
    count = {"type": "integer", "minimum": 0}
    rate = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    seconds = {"type": ["number", "null"], "minimum": 0}
    properties = {
        "offered": {**count, "description": "Calls that waited for an operator (a call waiting now included)."},
        "answered": {**count, "description": "Of those, taken by an operator."},
        "abandoned": {**count, "description": "Of those, ended by the caller while waiting."},
        "abandon_rate": {**rate, "description": "abandoned / offered; null when none was offered."},
        "service_level": {**rate, "description": "Answered within SERVICE_LEVEL_SECONDS / offered."},
        "asa_s": {**seconds, "description": "Mean wait of answered calls."},
        "aht_s": {**seconds, "description": "Mean talk + after-call work, of answered calls with both known."},
        "talk_s": {**seconds, "description": "Mean talk time of answered calls that ended."},
        "acw_s": {**seconds, "description": "Mean after-call work (call end → message saved)."},
        "after_hours": {**count, "description": "Calls that arrived outside the firm's hours."},
        "voicemails": count, "blocked": count,
        "messages": {**count, "description": "Messages taken, by when they were taken."},
        "noise": {**count, "description": "Messages of the noise categories: " + ", ".join(NOISE_CATEGORIES) + "."},
    }
    return {"Figures": {"type": "object", "required": list(properties), "properties": properties}}
