"""Text nobody can store, refused at the doors (``auth.view`` for pages, ``api.v1.endpoint`` for the API)
before it reaches a handler: PostgreSQL stores no NUL character, no database stores half of a UTF-16
pair (JSON's "\\ud800"), and a percent-escape that is no UTF-8 would silently become "�"."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from urllib.parse import unquote_to_bytes

from starlette.convertors import Convertor

# Every number of up to 18 digits fits a signed 64-bit integer column (2**63 - 1 has 19 digits).
ID_DIGITS = 18


class IdConvertor(Convertor[int]):
    """``{id:id}`` in a route: a row id the database can look up. A longer one matches no route,
    so it is a 404 like any unknown address, never an integer overflow in the query."""

    regex = f"[0-9]{{1,{ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def row_id(text: str | None) -> int | None:
    """A row id given as text (a query parameter), or None when it is no id the database could hold."""
    if text and text.isascii() and text.isdigit() and len(text) <= ID_DIGITS:
        return int(text)
    return None


def keyset_cursor(at: dt.datetime, row_id: int) -> str:
    """The opaque cursor of a newest-first list after the row of time ``at`` and id ``row_id``."""
    raw = f"{at.astimezone(dt.timezone.utc).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_keyset_cursor(text: str) -> tuple[dt.datetime, int]:
    """The (time, id) a cursor names; ValueError for anything ``keyset_cursor`` did not make."""
    try:
        at, _bar, row_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().partition("|")
        if not (row_id.isascii() and row_id.isdigit() and len(row_id) <= ID_DIGITS):
            raise ValueError(row_id)
        return dt.datetime.fromisoformat(at).astimezone(dt.timezone.utc), int(row_id)
    except (binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(text) from exc


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _shown(name: str) -> str:
    """A field's name fit to echo back in an error (the name itself may be the bad text)."""
    return name.encode("utf-8", "replace").decode().replace("\x00", "?")


def bad_query_field(query_string: bytes) -> str | None:
    """The first query parameter whose name or value is not storable UTF-8 text, read from the raw
    query string (the parsed one has already replaced what did not decode)."""
    for piece in query_string.split(b"&"):
        name, _eq, value = piece.partition(b"=")
        texts = []
        for raw in (name, value):
            try:
                texts.append(unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
        if None in texts or not all(storable(t) for t in texts):
            return _shown(unquote_to_bytes(name).decode("utf-8", "replace"))
    return None


def bad_field(data, path: str = "") -> str | None:
    """The key path (``fields.body``, ``readback[2]``) of the first string in ``data`` (parsed JSON, a
    form, path parameters) that is not storable text, keys included. Iterative: JSON nests deep."""
    stack = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                return where or "body"
        elif isinstance(value, dict) or hasattr(value, "multi_items"):  # a dict, or a form with repeated names
            items = value.multi_items() if hasattr(value, "multi_items") else value.items()
            for key, item in reversed(list(items)):
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and not storable(key):
                    return _shown(name)
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None
