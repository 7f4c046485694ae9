"""Phone numbers: parsed in a region's national format (or any international one), kept as E.164."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class InvalidNumber(ValueError):
    pass


def parse(text: str, region: str) -> phonenumbers.PhoneNumber:
    """Parse ``text`` (any format, full-width digits too) or raise InvalidNumber."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumber(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(text)
    return number


def to_e164(text: str, region: str) -> str:
    return phonenumbers.format_number(parse(text, region), PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)  # firms' numbers recur on every call; parsing one costs more than its lookup
def lenient_e164(text: str | None, region: str) -> str | None:
    """E.164 for what a carrier sent, or None when it is no usable number (hidden caller ID, "anonymous").
    Carriers write numbers nationally ("0312345678"), internationally ("+81312345678") or as bare
    international digits ("81312345678"); all three give the same result."""
    if not text:
        return None
    candidates = [text]
    if text.isdigit() and not text.startswith("0"):
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) or candidate is candidates[-1]:
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None


def is_mobile(text: str, region: str) -> bool:
    return phonenumbers.number_type(parse(text, region)) in MOBILE_TYPES


@lru_cache(maxsize=4096)  # a report shows each number twice (HTML, text); parsing is the slow part
def display(e164: str, region: str) -> str:
    """How a person in ``region`` writes the number: national format at home, international abroad."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    same_region = phonenumbers.region_code_for_number(number) == region
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if same_region else PhoneNumberFormat.INTERNATIONAL)


def read_aloud(text: str | None, region: str) -> list[str]:
    """A number's groups as the operator reads them back: "09012345678" → ["090", "1234", "5678"].
    What does not parse (yet) is shown as typed, digits only."""
    text = unicodedata.normalize("NFKC", (text or "").strip())
    if not text:
        return []
    try:
        text = display(to_e164(text, region), region)
    except InvalidNumber:
        pass
    return [group for group in re.split(r"[^0-9+]+", text) if group]
