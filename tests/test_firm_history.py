"""A firm's versions in the browser: the history, the diff between any two, restoring an old one; and
a firm edited in the browser, exported and imported elsewhere, is the same firm."""

import os
import re
import subprocess
import sys
import tomllib

from app.tenants import store
from app.tenants.config import from_json, validate
from app.tenants.models import Tenant
from app.tenants.versions import TenantVersion

from .conftest import csrf_token, log_in


def edit(tenant, actor, via="browser", **changes) -> int:
    """Save the firm with ``changes`` as the browser's editor would; returns the new version's number."""
    raw = {**from_json(store.snapshot(Tenant.get_by_id(tenant.id))), **changes}
    config, problems = validate(raw)
    assert not problems, problems
    return store.save(config, actor=actor, via=via).version.number


def versions_on(page: str) -> list[tuple[str, str]]:
    """(number, via) of each version listed, top to bottom."""
    return re.findall(r'data-number="(\d+)" data-via="(\w+)"', page)


def test_the_history_lists_every_version_newest_first_with_who_and_how(client, admin, firm_a):
    admin.name = "佐藤 マネージャー"
    admin.save()
    edit(firm_a, admin, name="改名後の事務所")
    edit(firm_a, admin, via="api", answer_phrase="はい、改名後の事務所です。")
    log_in(client, admin)
    page = client.get(f"/firms/{firm_a.slug}/history").text
    assert versions_on(page) == [("3", "api"), ("2", "browser"), ("1", "file")]
    version_2 = page[page.index('id="version-2"'):page.index('id="version-1"')]
    assert "ブラウザ" in version_2 and "佐藤 マネージャー" in version_2 and "<code>name</code>" in version_2
    version_1 = page[page.index('id="version-1"'):]
    assert "ファイル取り込み" in version_1 and "コマンドライン" in version_1
    assert "この版に戻す" in version_2 and "この版に戻す" not in page[:page.index('id="version-2"')]


def test_the_diff_between_two_versions_shows_each_changed_key_old_and_new(client, admin, firm_a):
    edit(firm_a, admin, name="改名後の事務所")
    edit(firm_a, admin, numbers=[{"number": "03-1111-2222", "kind": "forwarded"},
                                 {"number": "050-3786-9999", "kind": "dedicated"}])
    log_in(client, admin)
    page = client.get(f"/firms/{firm_a.slug}/history/diff", params={"from": 1, "to": 3}).text
    assert "第 1 版 → 第 3 版" in page
    rows = dict(re.findall(r'<code class="muted">([^<]+)</code></th>\s*<td[^>]*><del>(.*?)</del></td>', page, re.S))
    assert set(rows) == {"name", "numbers[1]"}
    assert "firm-a 株式会社" in rows["name"] and "改名後の事務所" in page
    # An item added to a list of tables is shown whole, its number as people write it.
    assert "050-3786-9999" in page and "+815037869999" not in page
    # Without numbers: the latest against the one before.
    latest = client.get(f"/firms/{firm_a.slug}/history/diff").text
    assert "第 2 版 → 第 3 版" in latest and '<code class="muted">name</code>' not in latest


def test_version_numbers_that_name_no_version_get_a_clear_error_at_the_field_not_a_500(client, admin, firm_a):
    edit(firm_a, admin, name="改名後の事務所")
    log_in(client, admin)
    for wrong in ({"from": "abc", "to": "2"}, {"from": "1", "to": "99"}, {"from": "-1", "to": "2"},
                  {"from": "１", "to": "2"}, {"from": "1"}, {"from": "9" * 40, "to": "1"}):
        response = client.get(f"/firms/{firm_a.slug}/history/diff", params=wrong)
        assert response.status_code == 422, wrong
        assert "この顧客の版を選んでください（1〜2 の番号）。" in response.text
        assert f'value="{wrong["from"]}"' in response.text  # what was typed stays


def test_restoring_an_old_version_makes_a_new_version_and_the_firm_is_as_it_was(client, admin, firm_a):
    first = store.snapshot(firm_a)
    edit(firm_a, admin, name="改名後の事務所", answer_phrase="はい、改名後の事務所です。")
    log_in(client, admin)
    page = client.get(f"/firms/{firm_a.slug}/history").text
    form = page[page.index('action="/firms/firm-a/history/1/restore"'):]
    assert 'name="version" value="2"' in form[:400]
    response = client.post(f"/firms/{firm_a.slug}/history/1/restore",
                           data={"csrf_token": csrf_token(client, "/admin"), "version": "2"})
    assert response.status_code == 200 and response.url.path == f"/firms/{firm_a.slug}/history"
    assert "第 1 版に戻しました。第 3 版として保存しました。" in response.text
    assert store.snapshot(Tenant.get_by_id(firm_a.id)) == first
    restored = TenantVersion.get(TenantVersion.tenant == firm_a, TenantVersion.number == 3)
    assert (restored.via, restored.saved_by_id, restored.note) == ("restore", admin.id, "第 1 版を復元")
    assert versions_on(response.text)[0] == ("3", "restore")
    # Restoring what the firm already is changes nothing, and says so.
    again = client.post(f"/firms/{firm_a.slug}/history/1/restore",
                        data={"csrf_token": csrf_token(client, "/admin"), "version": "3"})
    assert "現在の設定は第 1 版と同じです。" in again.text and Tenant.get_by_id(firm_a.id).version == 3


def test_restoring_is_refused_with_a_clear_message_when_a_number_is_now_another_firms(client, admin, firm_a, firm_b):
    edit(firm_a, admin, numbers=[{"number": "03-9999-0000", "kind": "forwarded"}])
    edit(firm_b, admin, numbers=[{"number": "06-3333-4444", "kind": "forwarded"},
                                 {"number": "03-1111-2222", "kind": "forwarded"}])
    log_in(client, admin)
    response = client.post(f"/firms/{firm_a.slug}/history/1/restore",
                           data={"csrf_token": csrf_token(client, "/admin"), "version": "2"})
    assert response.status_code == 409
    assert "第 1 版はこのままでは復元できません:" in response.text
    assert "numbers[0].number" in response.text and "firm-b" in response.text
    assert Tenant.get_by_id(firm_a.id).version == 2
    assert store.snapshot(Tenant.get_by_id(firm_a.id))["numbers"][0]["number"] == "+81399990000"


def test_a_restore_from_a_page_someone_saved_after_is_refused_with_their_change(client, admin, supervisor, firm_a):
    edit(firm_a, admin, name="改名後の事務所")
    log_in(client, admin)
    client.get(f"/firms/{firm_a.slug}/history")  # the page shows version 2 as the latest …
    edit(firm_a, supervisor, answer_phrase="お電話ありがとうございます。別の人です。")  # … then someone saves 3
    response = client.post(f"/firms/{firm_a.slug}/history/1/restore",
                           data={"csrf_token": csrf_token(client, "/admin"), "version": "2"})
    assert response.status_code == 409
    assert "このページを開いた後に別の人が保存しました（第 3 版）" in response.text
    assert "<code>answer_phrase</code>" in response.text and "別の人です。" in response.text
    assert Tenant.get_by_id(firm_a.id).version == 3


def test_a_version_the_firm_does_not_have_cannot_be_restored(client, admin, firm_a, firm_b):
    edit(firm_b, admin, name="B の新しい名前")
    log_in(client, admin)
    response = client.post(f"/firms/{firm_a.slug}/history/2/restore",
                           data={"csrf_token": csrf_token(client, "/admin"), "version": "1"})
    assert response.status_code == 404 and Tenant.get_by_id(firm_a.id).version == 1


def test_the_history_is_for_account_managers_and_linked_from_the_firms_page(client, admin, operator, firm_a):
    log_in(client, operator)
    assert client.get(f"/firms/{firm_a.slug}/history").status_code == 403
    assert f"/firms/{firm_a.slug}/history" not in client.get(f"/firms/{firm_a.slug}").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    log_in(client, admin)
    assert f'href="/firms/{firm_a.slug}/history"' in client.get(f"/firms/{firm_a.slug}").text


def test_a_firm_edited_in_the_browser_exported_and_imported_into_a_fresh_database_is_the_same_firm(
        admin, firm_a, tmp_path, environ):
    edit(firm_a, admin, name="改名後の事務所", name_kana="かいめいごのじむしょ",
         hours={"mon": "09:00-12:00,13:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
                "fri": "09:00-17:30", "sat": "", "sun": "", "closed_on_holidays": "JP", "after_hours": "voicemail"},
         staff=[{"key": "yamada", "name": "山田 太郎", "email": "yamada@firm-a.example.jp", "mobile": "090-1234-5678"}],
         reports=[{"key": "evening", "at": ["18:00"], "days": ["mon", "tue", "wed", "thu", "fri"],
                   "skip_holidays": True, "deliver": [{"channel": "email", "to_staff": ["yamada"]}]}])
    here = store.snapshot(Tenant.get_by_id(firm_a.id))
    text = store.export(firm_a.slug)
    folder = tmp_path / "elsewhere" / firm_a.slug
    folder.mkdir(parents=True)
    (folder / "tenant.toml").write_text(text, encoding="utf-8")
    env = {"PATH": os.environ["PATH"], **environ, "DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere.db"}

    def dengon(*args):
        result = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                                cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    dengon("migrate")
    assert dengon("tenants", "import", str(folder)).strip() == f"created: {firm_a.slug}"
    there = dengon("tenants", "export", firm_a.slug)
    assert there == text
    config, problems = validate(tomllib.loads(there))
    assert not problems and config == here
