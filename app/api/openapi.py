"""The OpenAPI 3.1 description of JSON API v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from ..messages.forms import NOISE_CATEGORIES
from ..tenants.models import CATEGORIES


def _errors(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}


def _one(description: str, status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/MessageDetail"}}}},
        "401": _errors("No valid token."), "404": _errors("No such message, or another firm's.")}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def document(server: str) -> dict:
    time = {"type": "string", "format": "date-time"}
    message = {
        "type": "object",
        "required": ["id", "tenant", "call_type", "category", "urgent", "fields", "readback", "taken_at",
                     "taken_by", "handled", "call_sid"],
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
            "call_sid": {"type": ["string", "null"]},
            "source": {"type": "string", "enum": ["operator", "api", "voicemail"]},
            "version": {"type": "integer", "description": "1, plus one per correction."},
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
        "type": "object", "required": ["fields"],
        "properties": {
            "tenant": {"type": "string", "description": "The firm's slug; may be left out when call_sid names a "
                                                        "call of a known firm."},
            "call_sid": {"type": "string"},
            "call_type": {"type": "string", "description": "Default: the firm's first call type."},
            "category": {"type": "string", "enum": list(CATEGORIES),
                         "description": "Default: the call type's. Noise calls (" + ", ".join(NOISE_CATEGORIES)
                                        + ") need no field and no read-back."},
            "urgent": {"type": "boolean", "default": False},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "readback": {"type": "array", "items": {"type": "string"},
                         "description": "The read-back fields confirmed with the caller: every filled one."},
        },
    }
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
                        _query("tenant", "A firm's slug.", {"type": "string"}),
                        _query("since", "Taken at or after (ISO 8601 with offset).", time),
                        _query("until", "Taken before (ISO 8601 with offset).", time),
                        _query("category", "Only this category.", {"type": "string", "enum": list(CATEGORIES)}),
                        _query("handled", "Only handled (true) or open (false) ones.", {"type": "boolean"}),
                        _query("cursor", "next_cursor of the page before.", {"type": "string"}),
                        _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                    ],
                    "responses": {
                        "200": {"description": "A page", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {
                                "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                                "next_cursor": {"type": ["string", "null"]}}}}}},
                        "401": _errors("No valid token."), "422": _errors("A parameter is invalid."),
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
                    "responses": {**_one("Recorded.", "201"),
                                  "403": _errors("A client token."),
                                  "422": _errors("A required field is missing, a value is invalid or a read-back "
                                                 "field is not confirmed; each is named.")},
                },
            },
            "/api/v1/messages/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {"summary": "One message, with its read-back marks and history", "responses": _one("The message.")},
                "patch": {
                    "summary": "Mark handled or not, with a note",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["handled"], "properties": {
                            "handled": {"type": "boolean"}, "note": {"type": "string", "maxLength": 2000}}}}}},
                    "responses": {**_one("The message."), "422": _errors("Invalid input.")},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `dengon tokens create`."}},
            "schemas": {
                "Message": message, "MessageDetail": detail, "NewMessage": new_message,
                "Errors": {"type": "object", "properties": {"errors": {
                    "type": "object", "additionalProperties": {"type": "string"},
                    "description": "Field → what is wrong with it."}}},
            },
        },
    }
