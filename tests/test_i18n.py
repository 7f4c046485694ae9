"""Every user-facing string goes through the catalogue, and Japanese has them all."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)[sd]")


def catalogue():
    with open(LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale="ja")


def extracted_ids() -> set[str]:
    ids = set()
    sources = (("app", "**.py", "python"), ("templates", "**.html", "jinja2"),
               ("reports", "**.html", "jinja2"), ("reports", "**.txt", "jinja2"))
    for sub, pattern, method in sources:
        options = {pattern: {"extensions": "jinja2.ext.i18n"}} if method == "jinja2" else {}
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / sub, [(pattern, method)],
                keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}, options_map=options):
            ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_string_in_the_code_and_templates_is_in_the_japanese_catalogue():
    known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue() if m.id}
    missing = extracted_ids() - known
    assert not missing, f"run scripts/i18n and translate: {sorted(missing)[:10]}"


def test_every_japanese_entry_is_translated_and_keeps_its_placeholders():
    for message in catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert not message.fuzzy, f"fuzzy: {ids[0]!r}"
        for string in strings:
            assert set(PLACEHOLDER.findall(ids[0])) == set(PLACEHOLDER.findall(string)), ids[0]


def test_templates_contain_no_text_outside_the_catalogue():
    # Text between tags must come from {{ _(...) }} or data; a stray word in a template is a bug.
    stray = []
    for path in (ROOT / "templates").rglob("*.html"):
        html = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<script.*?</script>|<style.*?</style>", " ", path.read_text(), flags=re.S)
        for text in re.findall(r">([^<>]+)<", html):
            if re.search(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}", text) and text.strip() not in ALLOWED:
                stray.append((path.name, text.strip()))
    assert not stray


# Language names are shown in their own language, in either interface language.
ALLOWED = {"English", "日本語", "伝言"}
