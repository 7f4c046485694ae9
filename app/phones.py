"""Phone numbers: parsed in a region's national format (or any international one), kept as E.164."""

from __future__ import annotations

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


def lenient_e164(text: str | None, region: str) -> str | None:
    """E.164 for what a carrier sent, or None when it is no usable number (hidden caller ID, "anonymous")."""
    if not text:
        return None
    try:
        return phonenumbers.format_number(phonenumbers.parse(text, region), PhoneNumberFormat.E164)
    except NumberParseException:
        return None


def is_mobile(text: str, region: str) -> bool:
    return phonenumbers.number_type(parse(text, region)) in MOBILE_TYPES


def display(e164: str, region: str) -> str:
    """How a person in ``region`` writes the number: national format at home, international abroad."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    same_region = phonenumbers.region_code_for_number(number) == region
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if same_region else PhoneNumberFormat.INTERNATIONAL)
