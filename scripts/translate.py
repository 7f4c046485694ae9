"""Set Japanese translations from the command line: python scripts/translate.py 'msgid' 'msgstr' ..."""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "app/locale/ja/LC_MESSAGES/messages.po"

with PO.open("rb") as f:
    catalog = read_po(f, locale="ja")
pairs = sys.argv[1:]
for msgid, msgstr in zip(pairs[::2], pairs[1::2]):
    message = catalog[msgid]
    if message is None:
        sys.exit(f"not in the catalogue: {msgid!r} (run scripts/i18n first)")
    message.string = msgstr
    message.flags.discard("fuzzy")
with PO.open("wb") as f:
    write_po(f, catalog, omit_header=False, sort_output=True, no_location=True)
