"""Finding a firm's messages by what was said: every field (names, company, body, extra fields) and
phone numbers in any format or fragment. One function, ``narrow``, serves the portal and the API.

Japanese has no spaces between words and names are one or two characters, so a word index finds
nothing and a trigram index nothing short. Each message is indexed as its n-grams instead, in the
``message_search`` table (migration 0009), one row a message:

- every character once (a one-character query looks it up);
- every pair of neighbouring characters at its position (a two-character query looks it up; a
  longer one is the phrase of its pairs at consecutive positions: exactly the substring, no
  false match to weed out);
- each gram suffixed with the firm's id (「田中_12」), so a client's query reads only its firm's
  entries, newest pages or not, however common the gram is across firms.

On SQLite that row is an FTS5 document (tokens separated by spaces, the ``ascii`` tokenizer keeps
each gram whole); on PostgreSQL a ``tsvector`` built from the same tokens (no parser, no stemming)
under a GIN index. Either way the database intersects posting lists and hands back the matching
ids; the caller's own keyset query then pages them newest first.

What is compared (both sides alike): NFKC (full-width digits and letters, half-width kana), case
folded, katakana read as hiragana (タナカ finds たなか), spaces ignored (「田中花子」 finds
「田中 花子」), the dashes and brackets between digits dropped (03-1234-5678 is 0312345678), every
other character compared as itself (「%」 and 「_」 are no wildcards); a stored phone number is
its digits, in both its national (0312345678) and international (81312345678) forms. Each field
is a part of its own: a term never spans two fields.
"""

from __future__ import annotations

import re
import unicodedata

import peewee as pw

from ..db import db, is_postgres
from .models import Message

MAX_QUERY = 100  # characters: a search box, not a document
MAX_INDEXED = 8_000  # characters of a message indexed (PostgreSQL counts positions up to 16,383)

_E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
_PHONE_LIKE = re.compile(r"^[+(]?[0-9][0-9 ()+.\-]*$")
# Dashes a number is written with (hyphen, minus, full-width and Japanese long-vowel bar), and the
# spaces, dots and brackets between its digits: dropped, so 03-1234-5678 reads as 0312345678.
_DIGIT_GLUE = re.compile(r"(?<=[0-9])[\s\-‐‑‒–—―−ー().]+(?=[0-9(])")
_IGNORED = re.compile(r"[\s\x00-\x1f\x7f]+")  # spaces (and control characters) are not compared
_WIDE = {c: c + 0xFEE0 for c in range(0x21, 0x7F) if not chr(c).isalnum()}
_GAP = "zzz"  # a filler token (3 characters: never a gram) that keeps pairs of two parts apart
_TABLE = pw.Table("message_search")
# On SQLite, a term found in this many messages (or more) is looked up newest message first, a
# rarer one match first (see ``_condition``). Either plan finds the same messages; this is where
# the walk becomes cheaper: fetching and sorting a match costs ~3.5 µs, walking a message of the
# firm's index ~0.15 µs, and a page of 51 walks ~51/share of the firm's messages. None: match first.
COMMON: int | None = 500


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    # Katakana as hiragana (ァ U+30A1 … ヶ U+30F6 → ぁ U+3041 …).
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)


def parts(text: str) -> list[str]:
    """``text`` as search compares it: [the folded text without spaces], or [] when nothing is left."""
    text = _IGNORED.sub("", _DIGIT_GLUE.sub("", _fold(text)))
    # ASCII punctuation as its full-width twin: FTS5's ascii tokenizer would split a gram at it.
    text = text.translate(_WIDE)
    return [text] if text else []


def normalise(text: str) -> str:
    """What a search compares, as one string (for display and tests)."""
    return "".join(parts(text[:MAX_QUERY]))


def phone_fragment(text: str) -> str | None:
    """The digits to look for when ``text`` is a phone number or a piece of one ("03-1234",
    "+81 3 1234 5678", "１２３４"), else None."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"[‐‑‒–—―−ー]", "-", text)
    if not _PHONE_LIKE.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    return digits or None


def phone_forms(e164: str) -> list[str]:
    """The digits a person may type for a stored number: national (with its trunk 0) and international."""
    digits = e164[1:]
    if digits.startswith("81"):  # the common case, without phonenumbers' 40 µs
        return ["0" + digits[2:], digits]
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [digits]
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return [national, digits] if national and national != digits else [digits]


def searchable(fields: dict, numbers: tuple[str, ...] = ()) -> list[str]:
    """The parts of a message that search compares: every field's value (a phone number as its
    digits in both forms) and the call's own numbers."""
    out: list[str] = []
    values = [*fields.values(), *numbers]
    for value in values:
        if value is None:
            continue
        value = value if isinstance(value, str) else str(value)
        if _E164.match(value):
            out.extend(phone_forms(value))
        else:
            out.extend(parts(value))
    return out


def _token(gram: str, tenant_id: int | None) -> str:
    """A gram as indexed: with its firm, so a client's query reads only its own firm's entries
    (``_`` never occurs in a gram: ASCII punctuation is folded to full width)."""
    return f"{gram}_{tenant_id}" if tenant_id is not None else f"{gram}_"


def _grams(segments: list[str]) -> tuple[list[tuple[str, int]], set[str]]:
    """(pair, position) for every pair of neighbouring characters, a position left empty between
    parts (a phrase never spans two), and the set of single characters."""
    pairs, singles, position, budget = [], set(), 1, MAX_INDEXED
    for segment in segments:
        segment = segment[:budget]
        budget -= len(segment)
        singles.update(segment)
        for i in range(len(segment) - 1):
            pairs.append((segment[i:i + 2], position))
            position += 1
        position += 1
        if budget <= 0:
            break
    return pairs, singles


def document(tenant_id: int, segments: list[str]) -> str:
    """The row a message is indexed as: FTS5 text on SQLite, a tsvector literal on PostgreSQL."""
    pairs, singles = _grams(segments)
    if is_postgres():
        positions: dict[str, list[int]] = {}
        for gram, at in pairs:
            positions.setdefault(gram, []).append(at)
        lexemes = [f"{_quote(_token(g, tenant_id))}:{','.join(map(str, at[:256]))}" for g, at in positions.items()]
        lexemes += [_quote(_token(ch, tenant_id)) for ch in singles]
        return " ".join(lexemes)
    tokens, last = [], 0
    for gram, at in pairs:
        if at != last + 1 and last:
            tokens.append(_GAP)
        tokens.append(_token(gram, tenant_id))
        last = at
    return " ".join([*tokens, _GAP, *(_token(ch, tenant_id) for ch in sorted(singles))])


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def index(message: Message, numbers: tuple[str, ...] | None = None, *, fields: dict | None = None) -> None:
    """(Re)index one message: after it is saved, or corrected to ``fields``. ``numbers``: its
    call's caller number (read from the call when not given)."""
    if numbers is None:
        numbers = (message.call.from_number,) if message.call_id and message.call.from_number else ()
    write([(message.id, message.tenant_id, searchable(message.fields if fields is None else fields, numbers))])


def write(rows: list[tuple[int, int, list[str]]]) -> None:
    """Index many messages at once: (id, tenant id, searchable parts)."""
    values = [(message_id, document(tenant_id, segments)) for message_id, tenant_id, segments in rows]
    if is_postgres():
        sql = ("INSERT INTO message_search (message_id, doc) VALUES (%s, %s::tsvector) "
               "ON CONFLICT (message_id) DO UPDATE SET doc = excluded.doc")
    else:
        sql = "INSERT OR REPLACE INTO message_search (rowid, doc) VALUES (?, ?)"
    db.cursor().executemany(sql, values)


def reindex(batch: int = 5_000) -> int:
    """Index every message (the migration fills the index with it); returns how many."""
    from ..calls.models import Call

    done, last = 0, 0
    while True:
        rows = list(Message.select(Message.id, Message.tenant, Message.fields, Call.from_number)
                    .join(Call, pw.JOIN.LEFT_OUTER).where(Message.id > last).order_by(Message.id)
                    .limit(batch).tuples())
        if not rows:
            return done
        with db.atomic():
            write([(i, t, searchable(fields, (number,) if number else ())) for i, t, fields, number in rows])
        done += len(rows)
        last = rows[-1][0]


def _condition(terms: list[str], tenant_id: int | None):
    """The ids of the messages holding every term (a substring each), as a subquery. Without a
    firm (staff), each gram is looked up for every firm: a prefix query, slower but complete."""
    postgres = is_postgres()
    clauses = []
    for term in terms:
        grams = [term] if len(term) == 1 else [term[i:i + 2] for i in range(len(term) - 1)]
        if postgres:
            tokens = [_quote(_token(g, tenant_id)) + ("" if tenant_id is not None else ":*") for g in grams]
            clauses.append("(" + " <-> ".join(tokens) + ")")
        elif tenant_id is not None:  # a phrase: the pairs at consecutive positions
            clauses.append('"' + " ".join(_token(g, tenant_id) for g in grams) + '"')
        else:
            clauses.append(" + ".join(f'"{_token(g, None)}" *' for g in grams))
    if postgres:
        query = pw.Cast(" & ".join(clauses), "tsquery")
        return Message.id.in_(_TABLE.select(pw.SQL("message_id")).where(pw.Expression(pw.SQL("doc"), "@@", query)))
    match = pw.Expression(pw.SQL("message_search"), "MATCH", " AND ".join(f"({c})" for c in clauses))
    matches = _TABLE.select(pw.SQL("rowid")).where(match)
    if _common(matches):
        # SQLite drives the query from the matches (fetching and sorting every one of them) unless
        # the id cannot use its index: ``+id`` makes it walk the firm's messages newest first and
        # check each against the matches (a list made once), stopping at the page.
        return pw.Expression(pw.NodeList((pw.SQL("+"), Message.id), glue=""), pw.OP.IN, matches)
    return Message.id.in_(matches)


def _common(matches: pw.Select) -> bool:
    """Whether at least COMMON messages match: counted no further, so it costs little either way."""
    if COMMON is None:
        return False
    return matches.limit(COMMON).count(db) >= COMMON


def _firm_of(query: pw.ModelSelect) -> int | None:
    """The firm a query is already limited to (``Message.tenant == x`` among its ANDed conditions)."""
    stack = [query._where]
    while stack:
        node = stack.pop()
        if isinstance(node, pw.Expression):
            if node.op == pw.OP.AND:
                stack += [node.lhs, node.rhs]
            elif node.op == pw.OP.EQ and node.lhs is Message.tenant and not isinstance(node.rhs, pw.Node):
                rhs = node.rhs
                return rhs.id if isinstance(rhs, pw.Model) else int(rhs)
    return None


def narrow(query: pw.ModelSelect, text: str, *, tenant_id: int | None = None) -> pw.ModelSelect:
    """``query`` (of Message) narrowed to the messages in which ``text`` appears. A query already
    limited to one firm (or given ``tenant_id``) reads only that firm's part of the index."""
    text = text[:MAX_QUERY]
    digits = phone_fragment(text)
    terms = [digits] if digits else parts(text)
    if not terms:
        return query
    return query.where(_condition(terms, tenant_id if tenant_id is not None else _firm_of(query)))
