"""Every report and notification is in its firm's language, whatever the language of the process
that renders it: the command line's is English, the worker's threads and processes the default."""

import datetime as dt
import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import i18n
from app.messages import forms, service as messages
from app.messages.models import Message
from app.reports import render
from app.tenants import labels, store
from app.tenants.models import ReportRule

from .conftest import minimal_config

ROOT = Path(__file__).resolve().parent.parent
JST = dt.timezone(dt.timedelta(hours=9))
OTHER = {"ja": "en", "en": "ja"}


def _template_msgids() -> set[str]:
    found = set()
    for path in (ROOT / "reports").iterdir():
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', path.read_text()))
    return found


# Every label a report can show: the standard fields' and categories' names, and each string the
# report templates translate.
MSGIDS = sorted(set(labels.FIELD_LABELS.values()) | set(labels.CATEGORY_LABELS.values()) | _template_msgids())


def words(msgid: str, locale: str) -> set[str]:
    """What of ``msgid`` in ``locale`` would be seen: its text between the placeholders."""
    with i18n.use_locale(locale):
        text = i18n.gettext(msgid)
    parts = (p.strip(" .:()") for p in re.split(r"\{\w+\}", text))
    return {p for p in parts if any(ch.isalpha() for ch in p)}


def foreign_labels(firm_language: str) -> set[str]:
    """The labels in the other language that must not appear (those the same in both are left out)."""
    other = OTHER[firm_language]
    return {w for msgid in MSGIDS for w in words(msgid, other) - words(msgid, firm_language)}


PEOPLE = {
    "ja": {"name": "山田法律事務所", "staff": "山田 太郎", "fields": {
        "caller_company": "佐藤商事", "caller_name": "佐藤 花子", "caller_name_kana": "さとう はなこ",
        "callback_number": "+819012345678", "callback_time": "午後", "for_staff": "yamada", "body": "契約書の件"}},
    "en": {"name": "Harbor IT", "staff": "Pat Jones", "fields": {
        "caller_company": "Acme Ltd", "caller_name": "Sam Lee", "caller_name_kana": "sam lee",
        "callback_number": "+819012345678", "callback_time": "afternoon", "for_staff": "yamada",
        "body": "About the contract"}},
}


@pytest.fixture(params=["ja", "en"])
def firm(request, database):
    language = request.param
    people = PEOPLE[language]
    config = minimal_config(
        f"firm-{language}", "03-1234-5678", name=people["name"], language=language,
        staff=[{"key": "yamada", "name": people["staff"], "email": "yamada@firm.example", "mobile": "090-1234-5678"}],
        reports=[{"key": "evening", "at": ["18:00"], "deliver": [
            {"channel": "email", "to": ["office@firm.example"]}, {"channel": "sms", "to_staff": ["yamada"]},
            {"channel": "fax", "to": ["03-1234-5679"]}]}])
    firm = store.import_config(config)
    form = forms.form_of(firm, None)
    taken = []
    for n, (category, urgent) in enumerate([("message", True), ("callback", False), ("complaint", False),
                                            ("inquiry", False)]):
        clean = forms.Clean(form, category, urgent, people["fields"], ["caller_name", "callback_number"], {})
        message = messages.record(firm, clean, None)
        Message.update(taken_at=dt.datetime(2026, 11, 20, 10 + n, tzinfo=JST)).where(
            Message.id == message.id).execute()
        taken.append(message)
    voicemail = messages.record(firm, forms.Clean(form, "message", False, {"callback_number": "+819011112222"}, [], {}),
                                None, source="voicemail")
    Message.update(taken_at=dt.datetime(2026, 11, 20, 15, tzinfo=JST),
                   recording_url="https://recordings.example/RE1").where(Message.id == voicemail.id).execute()
    return firm


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "page.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())  # a label wrapped over two lines reads as one


def visible(html: str) -> str:
    """What a mail program shows of an HTML part: no styles, no tags (their class names are not labels)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


def words_shown(output: str) -> str:
    """The output without its links' addresses: a path such as /portal/messages/7 is no label."""
    return re.sub(r"https?://\S+", " ", output)


def rendered_everything(settings, firm, tmp_path) -> dict[str, str]:
    """Each template under reports/, as the firm receives it."""
    rule = firm.reports.get()
    end = dt.datetime(2026, 11, 20, 18, tzinfo=JST)
    taken = list(Message.select().where(Message.tenant == firm).order_by(Message.taken_at))
    report = render.report(settings, firm, rule, end - dt.timedelta(days=1), end, taken,
                           render.Setup.of_rules([rule])[rule.id])
    urgent = next(m for m in taken if m.urgent)
    email, sms, fax = (render.notification(settings, urgent, channel) for channel in ("email", "sms", "fax"))
    return {"subject.txt": report.subject, "email.txt": report.text, "email.html": visible(report.html), "sms.txt": report.sms,
            "fax.html": pdf_text(report.pdf, tmp_path), "notify_subject.txt": email.subject,
            "notify_email.txt": email.text, "notify_email.html": visible(email.html), "notify_sms.txt": sms.sms,
            "notice fax.html": pdf_text(fax.pdf, tmp_path)}


def test_every_report_and_notification_is_in_the_firms_language_whatever_the_process_speaks(firm, settings,
                                                                                           tmp_path):
    with i18n.use_locale(OTHER[firm.language]):
        outputs = rendered_everything(settings, firm, tmp_path)
    foreign = foreign_labels(firm.language)
    assert {"Message body", "Callback number", "Urgent"} <= foreign or {"用件", "連絡先", "至急"} <= foreign
    for name, output in outputs.items():
        assert output.strip(), name
        seen = sorted(label for label in foreign if label in words_shown(output))
        assert not seen, f"{name} for a firm in {firm.language} shows {seen}:\n{output}"
    own = {"ja": ["用件", "連絡先", "宛先"], "en": ["Message body", "Callback number", "For"]}[firm.language]
    for name in ("email.txt", "email.html", "fax.html", "notify_email.txt", "notice fax.html"):
        assert all(label in outputs[name] for label in own), name


def test_reports_run_from_the_command_line_are_in_a_japanese_firms_language(environ, database, tmp_path):
    firm = store.import_config(minimal_config(
        "law", "03-1234-5678", name="山田法律事務所",
        staff=[{"key": "yamada", "name": "山田 太郎", "email": "yamada@law.example.jp"}],
        reports=[{"key": "evening", "at": ["18:00"], "deliver": [
            {"channel": "email", "to": ["office@law.example.jp"]}, {"channel": "fax", "to": ["03-1234-5679"]}]}]))
    ReportRule.update(created_at=dt.datetime(2026, 11, 20, 9, tzinfo=JST)).execute()
    clean = forms.Clean(forms.form_of(firm, None), "callback", True, PEOPLE["ja"]["fields"], ["caller_name"], {})
    message = messages.record(firm, clean, None)
    Message.update(taken_at=dt.datetime(2026, 11, 20, 10, tzinfo=JST)).where(Message.id == message.id).execute()

    result = subprocess.run([sys.executable, "-m", "app.cli", "reports", "run", "--date", "2026-11-20"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={"PATH": os.environ["PATH"], **environ})
    assert result.returncode == 0, result.stderr
    assert "1 reports made; deliveries: 2 sent" in result.stdout  # the command itself speaks English

    (mail,) = (Path(environ["OUTBOX_DIR"]) / "email").glob("*.eml")
    parsed = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    (fax,) = (Path(environ["OUTBOX_DIR"]) / "fax").glob("*.pdf")
    foreign = foreign_labels("ja")
    for part in (parsed.get_body(("plain",)).get_content(), visible(parsed.get_body(("html",)).get_content()),
                 pdf_text(fax.read_bytes(), tmp_path)):
        assert all(label in part for label in ["用件", "連絡先", "お名前", "会社名", "宛先", "至急"]), part
        assert not sorted(label for label in foreign if label in words_shown(part)), part
