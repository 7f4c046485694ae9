"""The `dengon` command, run as a user runs it: a separate process, real database, exit codes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.accounts.models import ApiToken, User

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ", ".join(sorted(p.stem for p in (ROOT / "migrations").glob("[0-9]*.py")))


@pytest.fixture
def dengon(environ, tmp_path):
    def run(*args, stdin: str = "", env: dict | None = None):
        return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True,
                              text=True, cwd=tmp_path, timeout=60,
                              env={"PATH": os.environ["PATH"], **environ, **(env or {})})
    return run


def test_migrate_creates_the_schema_once(dengon, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    first = dengon("migrate", env=env)
    assert first.returncode == 0 and first.stdout.strip() == f"applied: {MIGRATIONS}"
    again = dengon("migrate", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_commands_refuse_an_unmigrated_database_with_a_reason(dengon, tmp_path):
    result = dengon("tenants", "import", str(ROOT / "tenants"), env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 1
    assert result.stderr.strip() == f"dengon: the database needs migrating first ({MIGRATIONS}): run 'dengon migrate'"


def test_tenants_import_and_export_round_trip(dengon, database, tmp_path):
    first = dengon("tenants", "import", str(ROOT / "tenants"))
    assert first.returncode == 0, first.stderr
    assert "created: daiwa-kensetsu, harbor-it, sakura-clinic, yamada-law" in first.stdout
    again = dengon("tenants", "import", str(ROOT / "tenants" / "yamada-law"))
    assert again.stdout.strip() == "unchanged: yamada-law"
    exported = dengon("tenants", "export", "yamada-law")
    assert exported.returncode == 0 and exported.stdout.startswith('slug = "yamada-law"\n')
    (tmp_path / "copy" / "yamada-law").mkdir(parents=True)
    (tmp_path / "copy" / "yamada-law" / "tenant.toml").write_text(exported.stdout)
    assert dengon("tenants", "import", str(tmp_path / "copy")).stdout.strip() == "unchanged: yamada-law"


def test_tenants_import_lists_every_problem_and_exits_non_zero(dengon, database, tmp_path):
    folder = tmp_path / "bad" / "bad-firm"
    folder.mkdir(parents=True)
    (folder / "tenant.toml").write_text('slug = "bad-firm"\nname = "x"\n'
                                        'numbers = [{ number = "12", kind = "forwarded" }]\n')
    result = dengon("tenants", "import", str(folder))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{folder}/tenant.toml: answer_phrase: missing; expected a text value",
        f'{folder}/tenant.toml: numbers[0].number: "12" is not a valid phone number in region JP',
        "dengon: nothing imported: 2 problem(s) in the tenant files",
    ]


def test_exporting_an_unknown_firm_fails_with_one_line(dengon, database):
    result = dengon("tenants", "export", "nobody")
    assert result.returncode == 1 and result.stderr == "dengon: no tenant with the slug 'nobody'\n"


def test_users_add_takes_the_password_from_stdin(dengon, database):
    result = dengon("users", "add", "Op@Example.com", "--role", "operator", stdin="a long enough password\n")
    assert result.returncode == 0, result.stderr
    assert "password" not in result.stdout
    assert User.by_email("op@example.com").check_password("a long enough password")


def test_users_add_generates_and_prints_a_password_when_none_is_given(dengon, database, firm_a):
    result = dengon("users", "add", "client@firm-a.example.jp", "--role", "client", "--tenant", "firm-a")
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip().splitlines()[-1].removeprefix("password: ")
    user = User.by_email("client@firm-a.example.jp")
    assert user.tenant.slug == "firm-a" and user.check_password(password)


@pytest.mark.parametrize("args, reason", [
    (["x@example.com", "--role", "client"], "a client user needs --tenant SLUG"),
    (["x@example.com", "--role", "operator", "--tenant", "firm-a"], "--tenant is only for client users"),
    (["x@example.com", "--role", "client", "--tenant", "nope"], "--tenant 'nope': no such firm"),
    (["not-an-email", "--role", "admin"], "'not-an-email' is not an e-mail address"),
])
def test_users_add_explains_what_is_wrong(dengon, database, firm_a, args, reason):
    result = dengon("users", "add", *args)
    assert result.returncode == 1 and reason in result.stderr and len(result.stderr.splitlines()) == 1


def test_adding_the_same_user_twice_is_refused(dengon, database):
    dengon("users", "add", "a@example.com", "--role", "admin")
    result = dengon("users", "add", "A@example.com", "--role", "admin")
    assert result.returncode == 1 and "already exists" in result.stderr


def test_tokens_create_prints_the_token_last_and_stores_only_its_hash(dengon, database, admin):
    result = dengon("tokens", "create", admin.email)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("dgn_") and len(token) > 40
    row = ApiToken.get()
    assert token not in (row.token_hash, row.prefix) and row.prefix == token[:12]
    assert ApiToken.authenticate(token).id == admin.id
    assert ApiToken.authenticate(token + "x") is None


def test_a_bad_setting_stops_the_command_with_a_one_line_reason(dengon):
    result = dengon("migrate", env={"FAX_TRANSPORT": "pigeon"})
    assert result.returncode == 2
    assert result.stderr == ("dengon: bad setting: FAX_TRANSPORT='pigeon': expected one of "
                             "email-gateway, directory, outbox\n")


def test_the_worker_starts_and_stops_cleanly(environ, tmp_path):
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=tmp_path, text=True,
                              env={"PATH": os.environ["PATH"], **environ},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    output = ""
    while "worker ready" not in output and time.monotonic() < deadline:
        output += worker.stdout.readline()
    assert "worker ready" in output
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    assert "Consumer exiting" in worker.stdout.read()


def test_tenants_import_works_from_inside_a_tenant_folder(dengon, database, environ):
    result = subprocess.run([sys.executable, "-m", "app.cli", "tenants", "import", "."], capture_output=True,
                            text=True, cwd=ROOT / "tenants" / "harbor-it", timeout=60,
                            env={"PATH": os.environ["PATH"], **environ})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created: harbor-it"
