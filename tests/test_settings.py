"""Settings: declared once, documented in the README, checked at start-up."""

import re
from pathlib import Path

import pytest

from app import settings
from app.settings import SETTINGS, SettingsError, load

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    table = README[README.index("## Settings"):README.index("\n## ", README.index("## Settings") + 1)]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, re.M))
    assert documented == {s.name for s in SETTINGS}


def test_every_setting_has_a_help_text():
    assert all(s.help for s in SETTINGS)


def test_defaults_are_those_of_the_interface(tmp_path):
    s = load({}, var_dir=tmp_path)
    assert s.DATABASE_URL == "sqlite:///var/dengon.db"
    assert s.PUBLIC_URL == "http://127.0.0.1:8000" and s.DEFAULT_REGION == "JP"
    assert s.FAX_TRANSPORT == "outbox" and s.REDIS_URL is None and s.SMTP_URL is None


def test_a_sender_with_a_display_name_is_accepted(tmp_path):
    assert load({"MAIL_FROM": "Dengon 伝言 <dengon@example.jp>"}, var_dir=tmp_path).MAIL_FROM.endswith("<dengon@example.jp>")


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    first = load({}, var_dir=tmp_path).SECRET_KEY
    assert len(first) >= 32
    assert load({}, var_dir=tmp_path).SECRET_KEY == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name, value, expected", [
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL='mysql://x/y': expected a sqlite:///… or postgresql://… URL"),
    ("PUBLIC_URL", "example.jp", "PUBLIC_URL='example.jp': expected a URL starting with http:// or https://"),
    ("SMTP_URL", "smtp://mail:port", "SMTP_URL='smtp://mail:port': expected a URL with a numeric port"),
    ("FAX_TRANSPORT", "pigeon", "FAX_TRANSPORT='pigeon': expected one of email-gateway, directory, outbox"),
    ("DEFAULT_REGION", "XX", "DEFAULT_REGION='XX': expected a two-letter country code such as JP"),
    ("MAIL_FROM", "dengon", "MAIL_FROM='dengon': expected an e-mail address like dengon@example.jp"),
    ("TWILIO_SMS_FROM", "12345", "TWILIO_SMS_FROM='12345': expected a phone number in +E.164 form"),
])
def test_a_bad_value_names_the_variable_and_what_is_expected(tmp_path, name, value, expected):
    with pytest.raises(SettingsError) as caught:
        load({name: value}, var_dir=tmp_path)
    assert expected in str(caught.value)


def test_settings_that_go_together_are_checked_together(tmp_path):
    with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN: expected a value, because TWILIO_ACCOUNT_SID is set"):
        load({"TWILIO_ACCOUNT_SID": "AC123"}, var_dir=tmp_path)
    # The token alone verifies webhook signatures.
    assert load({"TWILIO_AUTH_TOKEN": "secret"}, var_dir=tmp_path).TWILIO_AUTH_TOKEN == "secret"
    with pytest.raises(SettingsError, match="FAX_DIRECTORY: expected a value, because FAX_TRANSPORT=directory"):
        load({"FAX_TRANSPORT": "directory"}, var_dir=tmp_path)


def test_only_the_settings_module_reads_the_environment():
    app_dir = Path(settings.__file__).parent
    readers = [p.relative_to(app_dir).as_posix() for p in app_dir.rglob("*.py")
               if "os.environ" in p.read_text() or "getenv" in p.read_text()]
    assert readers == ["settings.py"]
