"""Finding a firm's messages by what was said: every field (names, company, body, extra fields) and
phone numbers in any format or fragment. One function, ``narrow``, serves the portal and the API.

This first version compares text as written (a substring of the stored fields); the index that keeps
it fast for a firm with tens of thousands of messages, and for one- and two-character Japanese terms,
replaces its inside without changing its signature (bench/portal.py measures it).
"""

from __future__ import annotations

import re
import unicodedata

import peewee as pw

from .models import Message

MAX_QUERY = 100  # characters: a search box, not a document

_PHONE_LIKE = re.compile(r"^[+(]?[0-9][0-9 ()+\-]*$")


def normalise(text: str) -> str:
    """What a search compares: NFKC (full-width digits and letters, half-width kana), case folded,
    spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())[:MAX_QUERY]


def phone_fragment(text: str) -> str | None:
    """The digits to look for when ``text`` is a phone number or a piece of one ("03-1234", "5678",
    "+81 3"): stored numbers are E.164, so a national number's leading 0 is dropped."""
    text = normalise(text)
    if not _PHONE_LIKE.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < 2:
        return None
    return digits[1:] if digits.startswith("0") and len(digits) > 2 else digits


def narrow(query: pw.ModelSelect, text: str) -> pw.ModelSelect:
    """``query`` (of Message) narrowed to the messages in which ``text`` appears."""
    text = normalise(text)
    if not text:
        return query
    condition = _contains(text)
    if (digits := phone_fragment(text)) is not None:
        condition |= _contains(digits)
    return query.where(condition)


def _contains(text: str) -> pw.Expression:
    # Escaped by hand and unconverted: peewee's contains() lets the JSON field quote a plain pattern.
    escaped = text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return pw.Expression(Message.fields, pw.OP.ILIKE, pw.NodeList((
        pw.Value(f"%{escaped}%", converter=False), pw.SQL("ESCAPE"), pw.Value("\\", converter=False))))
