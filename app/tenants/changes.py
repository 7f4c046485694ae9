"""A firm's changes in words: one diff, {key path: [old, new]}, shown the same way by the editor, the
history and change requests — labelled from the schema, values as a person reads them."""

from __future__ import annotations

from typing import Any

from .. import phones
from ..i18n import _
from . import schema
from .schema import TENANT, Key


def label_of(path: str) -> str:
    """``call_types[1].required`` → "Call types 2 › Required", in the reader's language."""
    words, key = [], TENANT
    for part in path.split("."):
        name, _bracket, index = part.partition("[")
        key = key.sub(name) if key is not None else None
        words.append(_(key.label) if key is not None else name)
        if index:
            words[-1] += f" {int(index.rstrip(']')) + 1}"
    return " › ".join(words)


def shown(value: Any, key: Key | None = None, region: str = "JP") -> str:
    """A value as a person reads it: choices by their labels, yes/no, numbers in national format."""
    if key is not None and key.choice_labels and isinstance(value, (str, list)):
        value = [_(key.choice_labels.get(v, v)) for v in value] if isinstance(value, list) else \
            _(key.choice_labels.get(value, value))
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    item = key if key is not None and key.kind == "tables" else None  # a list of tables: each item is one
    if isinstance(value, list):
        return ", ".join(shown(v, item, region=region) if isinstance(v, dict) else shown(v, region=region)
                         for v in value)
    if isinstance(value, dict):  # a whole item added or removed; its key is in the path's code beside it
        return " / ".join(shown(v, key.sub(k) if key is not None else None, region) for k, v in value.items()
                          if v not in (None, "", [], False) and not isinstance(v, (list, dict)) and k != "key")
    if isinstance(value, str) and value.startswith("+") and value[1:].isdigit():
        return phones.display(value, region)  # stored in E.164
    return str(value)


def changes_in_words(changes: dict, region: str = "JP") -> list[dict]:
    """{key path: [old, new]} (store.diff) → rows the diff table shows, labelled from the schema."""
    return [{"path": path, "label": label_of(path), "old": shown(old, schema.key_at(path), region),
             "new": shown(new, schema.key_at(path), region)} for path, (old, new) in changes.items()]
