"""What the browser is told besides the page: keep to https when the service is on https, keep no
copy of a signed-in page or an API answer, send no cookie over plain http when the service is on https."""

import pytest
from starlette.testclient import TestClient

from app.accounts.service import create_token

from .conftest import PASSWORD, csrf_token, log_in


@pytest.fixture
def https_client(settings):
    from app.main import create_app

    with TestClient(create_app(settings.replace(PUBLIC_URL="https://dengon.example")),
                    base_url="https://testserver") as c:
        yield c


def test_a_service_on_https_tells_browsers_to_keep_to_https(https_client, client):
    assert https_client.get("/login").headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert https_client.get("/static/app.css").headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in client.get("/login").headers  # on plain http it would mean nothing


def test_signed_in_pages_and_api_answers_are_kept_in_no_cache_but_static_files_may_be(client, admin, alice):
    log_in(client, admin)
    for path in ("/firms", "/firms/firm-a", "/account"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store", path
    api = client.get("/api/v1/messages", headers={"Authorization": f"Bearer {create_token(alice.email)[1]}"})
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    static = client.get("/static/app.css")  # the same for everybody: a cache may keep it
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_on_https_every_cookie_is_secure_the_language_one_too(https_client, admin):
    first = https_client.get("/login")
    cookies = first.headers.get_list("set-cookie")
    login = https_client.post("/login", data={"email": admin.email, "password": PASSWORD,
                                              "csrf_token": csrf_token(https_client)}, follow_redirects=False)
    assert login.status_code == 303
    cookies += login.headers.get_list("set-cookie")
    switched = https_client.post("/language", data={"language": "en", "next": "/",
                                                    "csrf_token": csrf_token(https_client, "/account")},
                                 follow_redirects=False)
    assert switched.status_code == 303
    cookies += switched.headers.get_list("set-cookie")
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"dengon_lang", "dengon_session"} <= names and any("csrf" in name for name in names), names
    insecure = [cookie for cookie in cookies if "; secure" not in cookie.lower()]
    assert not insecure
