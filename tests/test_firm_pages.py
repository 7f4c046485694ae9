"""What operators and clients see of a firm's configuration."""

from app.tenants import store

from .conftest import log_in, minimal_config


def test_the_firm_page_shows_greeting_instructions_hours_staff_and_call_types(client, operator, demo_firms):
    log_in(client, operator)
    page = client.get("/firms/yamada-law").text
    assert "お電話ありがとうございます。山田法律事務所でございます。" in page
    assert "<strong>担当弁護士から折り返しご連絡いたします</strong>" in page  # Markdown rendered
    assert "03-1234-5678" in page  # numbers shown as people write them
    assert "山田 太郎" in page and "法律相談のご依頼" in page
    assert "復唱" in page and "祝日" in page


def test_markdown_from_a_tenant_file_cannot_inject_script(client, operator, database):
    store.import_config(minimal_config(
        "sneaky", "03-2222-3333",
        instructions='<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)>'))
    log_in(client, operator)
    page = client.get("/firms/sneaky").text
    assert "<script>alert(1)" not in page and 'href="javascript:' not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_the_export_downloads_the_firms_tenant_file(client, admin, demo_firms):
    log_in(client, admin)
    response = client.get("/firms/sakura-clinic/export.toml")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="sakura-clinic.toml"'
    assert response.text == store.export("sakura-clinic")


def test_the_audit_log_shows_who_changed_a_firm(client, admin, demo_firms):
    log_in(client, admin)
    page = client.get("/admin/audit").text
    assert "顧客をファイルから取り込み" in page and "山田法律事務所" in page and "tenant.import" not in page
